// Package iocount counts the bytes that pass through a writer: the size of a tarball or a record
// as it is written, without a stat afterwards, and whether a command printed anything at all.
package iocount

import "io"

// Writer passes writes to W and counts the bytes W accepted in N.
type Writer struct {
	W io.Writer
	N int64
}

// Write writes p to W and adds what W accepted to N.
func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
