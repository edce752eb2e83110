//go:build !unix

package ingress

// fitFileLimit returns want: this platform has no per-process open-file limit to fit.
func fitFileLimit(want int) int { return want }
