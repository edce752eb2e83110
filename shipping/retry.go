package shipping

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryableStatus reports whether an answer with this status is worth another attempt: the
// ingress is overloaded (429) or failing (5xx). Any other non-2xx answer would be the same
// answer again.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// backoffCap is the longest wait before retry n (n = 0 before the second attempt):
// min(max, initial·2ⁿ), without overflowing.
func backoffCap(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// backoff draws the wait before retry n: uniform in [0, backoffCap] ("full jitter").
func (u *Uploader) backoff(n int) time.Duration {
	c := backoffCap(u.cfg.InitialBackoff, u.cfg.MaxBackoff, n)
	if c <= 0 {
		return 0
	}
	u.rngMu.Lock()
	defer u.rngMu.Unlock()
	return time.Duration(u.rng.Int64N(int64(c) + 1))
}

// retryAfter parses a Retry-After header, delay-seconds or an HTTP date, into a wait from now,
// never negative. ok is false when the header is absent or malformed.
func retryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Beyond this the product overflows; any such wait is capped anyway.
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// sleepCtx waits for d or until ctx ends, returning ctx's error in the latter case.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
