//go:build race

package main

// raceEnabled is set when the tests run under the race detector, which
// makes every request several times slower.
const raceEnabled = true
