//go:build race

package gate_test

// raceEnabled: the race detector instruments allocations, so allocation
// counts are not the program's.
const raceEnabled = true
