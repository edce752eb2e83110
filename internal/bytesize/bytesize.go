// Package bytesize parses and formats byte counts: the one place that knows the units, for the
// registry's sizes ("64MiB" in collectors.toml), the runtime's and check's messages, and the
// CLI's reports and flags.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Binary units, largest first; Format and Approx use them.
var binary = []struct {
	name string
	size int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// units maps a lowercase unit suffix to its number of bytes. Decimal units are powers of 1000,
// binary (IEC) units powers of 1024.
var units = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// Parse parses a size in bytes written as a non-negative integer optionally followed by a unit:
// "1024" (bytes), "512KiB", "16 MiB", "1GiB" (binary units: KiB, MiB, GiB, TiB) or "100MB"
// (decimal units: B, KB, MB, GB, TB). Units are case-insensitive and may be separated from the
// number by spaces; fractions are not accepted. The error names the input and, for an unknown
// unit, lists the valid ones.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes with an optional unit, such as \"64MiB\"", s)
	}
	if i < len(t) && t[i] == '.' {
		return 0, fmt.Errorf("invalid size %q: fractions are not supported, use a smaller unit", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	unit := strings.TrimSpace(t[i:])
	mult, ok := units[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// Format renders n exactly, for messages about limits: in the largest binary unit that divides
// it ("64 MiB", "512 KiB"), else in bytes ("1500000 bytes", "0 bytes"). Parse reads the unit
// forms back.
func Format(n int64) string {
	if s, ok := whole(n); ok {
		return s
	}
	return fmt.Sprintf("%d bytes", n)
}

// Approx renders n for people reading a report, to one decimal: "512 B", "18.2 KiB",
// "3.0 MiB".
func Approx(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Exact renders n in the largest binary unit that divides it, or, when none does, as Approx.
func Exact(n int64) string {
	if s, ok := whole(n); ok {
		return s
	}
	return Approx(n)
}

// whole renders n in the largest binary unit dividing it; ok is false when none does.
func whole(n int64) (string, bool) {
	for _, u := range binary {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name), true
		}
	}
	return "", false
}
