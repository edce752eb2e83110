package registry

import (
	"encoding"
	"errors"
	"fmt"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// The value types of the schema parse their TOML text themselves (encoding.TextUnmarshaler) and
// print it back (fmt.Stringer), so that what a value may be is said once, with the type.
var (
	_ encoding.TextUnmarshaler = (*Size)(nil)
	_ encoding.TextUnmarshaler = (*Duration)(nil)
	_ encoding.TextUnmarshaler = (*Format)(nil)
	_ encoding.TextUnmarshaler = (*Slicing)(nil)
)

// Size is a number of bytes, written in the TOML as an integer or as a string with a unit:
// "64MiB", "512 KiB", "100MB" (see [bytesize.Parse] for every form).
type Size int64

// UnmarshalText parses a size with an optional unit.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := bytesize.Parse(string(b))
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// String returns the size in the largest binary unit that divides it ("64 MiB"), else in bytes.
func (s Size) String() string { return bytesize.Format(int64(s)) }

// Duration is a span of time written as a Go duration ("672h", "90m") or in whole days ("28d").
type Duration time.Duration

// UnmarshalText parses a duration; see [ParseDuration].
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// String returns whole days as "28d", other spans the short way: "90m", "1h30m", "45s".
func (d Duration) String() string {
	if d > 0 && time.Duration(d)%day == 0 {
		return fmt.Sprintf("%dd", time.Duration(d)/day)
	}
	return formatDuration(time.Duration(d))
}

// UnmarshalText accepts "json" or "csv".
func (f *Format) UnmarshalText(b []byte) error {
	switch v := Format(b); v {
	case FormatJSON, FormatCSV:
		*f = v
		return nil
	}
	return fmt.Errorf(`invalid format %q: must be "json" or "csv"`, b)
}

// String returns "json" or "csv".
func (f Format) String() string { return string(f) }

// UnmarshalText parses a collector's `slicing`: "none" (or ""), "daily", or an interval from 1m
// to 28 days such as "4h".
func (s *Slicing) UnmarshalText(b []byte) error {
	v, msg := parseSlicing(string(b))
	if msg != "" {
		return errors.New(msg)
	}
	*s = v
	return nil
}
