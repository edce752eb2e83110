// Package secret resolves the secrets a configuration names: an environment variable or a file,
// never the TOML itself.
package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Ref names where a secret (a password, say) comes from: an environment variable or a file,
// never the TOML itself, so a configuration file can be shared and committed. The TOML holds
// the reference; whoever builds a component resolves it.
type Ref struct {
	// Env is the name of an environment variable holding the secret.
	Env string
	// File is the path of a file holding the secret, such as a mounted Kubernetes secret.
	File string
}

// Resolve returns the secret. At most one of Env and File may be set; with neither it returns
// "" and no error, leaving it to the component to say which credential is missing. An environment
// variable that is unset or empty is an error naming the variable; a file that cannot be read
// or is empty is an error naming the file. Trailing line breaks of a file are trimmed, since
// editors and `echo` add them; an environment variable is used as is.
func (s Ref) Resolve() (string, error) {
	switch {
	case s.Env != "" && s.File != "":
		return "", fmt.Errorf("secret: set env %q or file %q, not both", s.Env, s.File)
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		switch {
		case !ok:
			return "", fmt.Errorf("secret: environment variable %s is not set", s.Env)
		case v == "":
			return "", fmt.Errorf("secret: environment variable %s is empty", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == s.File {
				err = fmt.Errorf("%s: %w", pe.Op, pe.Err) // the path is said once
			}
			return "", fmt.Errorf("secret file %s: %w", s.File, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", nil
}
