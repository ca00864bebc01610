//go:build race

package server

// raceEnabled: the race detector instruments allocations, so allocation
// counts are not the program's.
const raceEnabled = true
