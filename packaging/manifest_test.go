package packaging

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected texts were printed by Python 3's json.dumps, upstream's encoder.
func TestPyJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "plain", `"plain"`},
		{"empty", "", `""`},
		{"quote and backslash", `quote"back\slash`, `"quote\"back\\slash"`},
		{"named controls", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls and del", "\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"non-ascii in the bmp", "é ñ 中", `"\u00e9 \u00f1 \u4e2d"`},
		{"above the bmp as a surrogate pair", "😀", `"\ud83d\ude00"`},
		{"no html escaping", "/<>&\u2028", `"/<>&\u2028"`},
		{"invalid utf-8 as replacement character", "\xff", `"\ufffd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, string(appendPyJSONString(nil, tt.in)))
		})
	}
}

func TestManifest(t *testing.T) {
	tests := []struct {
		name    string
		entries []ManifestEntry
		want    string
	}{
		{"empty", nil, `{}`},
		{"one", []ManifestEntry{{"a", "1"}}, `{"a": "1"}`},
		{
			"upstream example",
			[]ManifestEntry{{"json1.json", "1.1"}, {"json2.json", "1.2"}, {"config.json", "1.0"}, {"data_collection_status.csv", "1.0"}},
			`{"json1.json": "1.1", "json2.json": "1.2", "config.json": "1.0", "data_collection_status.csv": "1.0"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendManifest(nil, tt.entries)
			require.Equal(t, tt.want, string(got))
			if tt.entries != nil {
				back, err := parseManifest(got)
				require.NoError(t, err)
				require.Equal(t, tt.entries, back)
			}
		})
	}
}
