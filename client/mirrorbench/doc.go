// Package mirrorbench compares module mirrors side by side; it is the logic
// behind `gomirror bench`.
//
// [Run] fetches, for every sample and every module version, the four
// artifacts the go command asks a module proxy for (the version list, .info,
// .mod and .zip) from every mirror, one request at a time. Within a sample
// the mirrors take turns request by request, and the mirror that goes first
// rotates, so that a change in network conditions during the run hits every
// mirror alike rather than favouring the one measured last.
//
// A request succeeds when it answers 2xx with a plausible body: a list of
// semantic versions, .info JSON naming the version asked for, a .mod whose
// module line names the module, a zip archive whose files are all under
// path@version/. Its latency is the time to the last byte of the body, and
// only successful requests are timed. Zip throughput is the bytes of all
// successful zips over the time spent fetching them.
//
// The recommendation ([Report.Best]) is the mirror with the highest success
// rate; among equal rates, the lowest sum of the .info and .mod medians
// (sums within [LatencyTolerance] of each other count as equal); then the
// highest zip throughput. A mirror that succeeded at nothing is never
// recommended.
package mirrorbench
