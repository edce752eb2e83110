//go:build race

package worker

// raceEnabled: see setMemoryBudget.
const raceEnabled = true
