package gather

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGuardTime(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Time
		ok    bool
	}{
		{"rfc 3339", "2026-11-26T10:00:00Z", at, true},
		{"rfc 3339 micro", "2026-11-26T10:00:00.000001Z", at.Add(time.Microsecond), true},
		{"offset", "2026-11-26T11:00:00+01:00", at, true},
		{"sqlite", "2026-11-26 10:00:00", at, true},
		{"sqlite ms", "2026-11-26 10:00:00.250", at.Add(250 * time.Millisecond), true},
		{"postgres copy", "2026-11-26 10:00:00.5+00", at.Add(500 * time.Millisecond), true},
		{"no zone with T", "2026-11-26T10:00:00", at, true},
		{"unix seconds", "1795687200", at, true},
		{"unix milliseconds", "1795687200000", at, true},
		{"date", "2026-11-26", at.Add(-10 * time.Hour), true},
		{"empty (NULL)", "", time.Time{}, false},
		{"words", "yesterday", time.Time{}, false},
		{"float", "1795687200.5", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := guardTime(tt.value)
			require.Equal(t, tt.ok, ok)
			require.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
		})
	}
}
