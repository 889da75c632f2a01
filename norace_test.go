//go:build !race

package jobartifacts

// raceEnabled: see race_test.go.
const raceEnabled = false
