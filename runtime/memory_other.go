//go:build !linux

package runtime

func newLinearMemory(limit uint64) memoryBacking { return &sliceMemory{limit: limit} }
