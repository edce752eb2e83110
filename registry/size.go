package registry

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sizeUnits maps a lowercase unit suffix to its number of bytes. Decimal units are powers of
// 1000, binary (IEC) units powers of 1024.
var sizeUnits = map[string]int64{
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

// ParseSize parses a size in bytes written as a non-negative integer optionally followed by a
// unit: "1024" (bytes), "512KiB", "16 MiB", "1GiB" (binary units: KiB, MiB, GiB, TiB) or "100MB"
// (decimal units: B, KB, MB, GB, TB). Units are case-insensitive and may be separated from the
// number by spaces; fractions are not accepted. A TOML integer in collectors.toml means bytes
// and never reaches ParseSize.
//
// It is exported because the CLI reuses it for flags. The error names the input and, for an
// unknown unit, lists the valid ones.
func ParseSize(s string) (int64, error) {
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
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (valid: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// formatSize renders a byte count for messages: with the largest binary unit that divides it
// exactly, else in bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// day is the unit of ParseDuration's "d" suffix.
const day = 24 * time.Hour

// ParseDuration parses a duration written as a Go duration, "672h", "90m", "1h30m" (see
// [time.ParseDuration]), or as a whole number of days, "28d", each day 24 hours. Spaces around
// the value are ignored; fractions and mixes ("1.5d", "1d12h") are not accepted.
//
// It is exported because the CLI reuses it for flags. The error names the input and the forms
// accepted; bounds are the caller's to check.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if digits, ok := strings.CutSuffix(t, "d"); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n > math.MaxInt64/int64(day) {
			return 0, fmt.Errorf("invalid duration %q: too large", s)
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf(`invalid duration %q: use a Go duration such as "672h" or whole days such as "28d"`, s)
	}
	return d, nil
}
