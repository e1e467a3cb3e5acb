//go:build race

package wsdial

// raceEnabled reports whether the race detector is on, which changes
// allocation counts: sync.Pool drops some of what it is given.
const raceEnabled = true
