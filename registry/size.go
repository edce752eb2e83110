package registry

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

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
