//go:build race

package registry

// raceEnabled scales the few wall-clock bounds the tests keep: the race detector slows the
// registry's code about tenfold.
const raceEnabled = true
