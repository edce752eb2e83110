package replay

// SetDiffInMemory sets the size above which a replay diffs outputs by streaming them, until
// the returned function restores it.
func SetDiffInMemory(n int64) (restore func()) {
	old := diffInMemory
	diffInMemory = n
	return func() { diffInMemory = old }
}
