package shipping

import (
	"errors"
	"fmt"
	"io/fs"
)

// fileError names what and path once: "ca_bundle /x.pem: open: no such file or directory",
// where the *fs.PathError would repeat the path.
func fileError(what, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s %s: %s: %w", what, path, pe.Op, pe.Err)
	}
	return fmt.Errorf("%s %s: %w", what, path, err)
}
