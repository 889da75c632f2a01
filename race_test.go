//go:build race

package jobartifacts

// raceEnabled: built with -race. Tests that check one goroutine's output
// against a reference at length run fewer rounds then: the race detector
// finds nothing in them, slows them tenfold, and the full rounds run in
// every build without it (CI's GOARCH=386 pass among them).
const raceEnabled = true
