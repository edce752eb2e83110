package tomlparam

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoundTrip: TOML values cross JSON unchanged, types included (plain JSON would turn integers
// into floats and dates into strings, and cannot hold NaN or ±Inf).
func TestRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.FixedZone("", 3600))
	in := map[string]any{
		"int": int64(1 << 60), "neg": int64(-7), "float": 1.5, "text": "a,b\n\"c\"", "yes": true, "when": when,
		"list": []any{int64(1), "two", []any{}}, "table": map[string]any{"nested": map[string]any{"x": 2.0}},
		"tables": []map[string]any{{"k": "v"}}, "empty": map[string]any{},
		"inf": math.Inf(1), "ninf": math.Inf(-1), "big": 1e300,
	}
	enc, err := Encode(in)
	require.NoError(t, err)
	b, err := json.Marshal(enc)
	require.NoError(t, err)
	var back map[string]Value
	require.NoError(t, json.Unmarshal(b, &back))
	out := Decode(back)
	want := map[string]any{}
	for k, v := range in {
		want[k] = v
	}
	want["tables"] = []any{map[string]any{"k": "v"}} // the decoder's own shape for an array of tables
	assert.True(t, out["when"].(time.Time).Equal(when))
	delete(want, "when")
	delete(out, "when")
	assert.Equal(t, want, out)

	nan, err := Encode(map[string]any{"nan": math.NaN()})
	require.NoError(t, err)
	b, err = json.Marshal(nan)
	require.NoError(t, err, "NaN has its own field: encoding/json refuses a NaN float")
	require.NoError(t, json.Unmarshal(b, &back))
	f, ok := Decode(back)["nan"].(float64)
	assert.True(t, ok && math.IsNaN(f), "NaN comes back a float, not the text NaN: %#v", Decode(back)["nan"])

	_, err = Encode(map[string]any{"bad": struct{}{}})
	assert.ErrorContains(t, err, `parameter "bad": value of type struct {} is not a TOML value`)
	deep := any("leaf")
	for range MaxDepth + 2 {
		deep = []any{deep}
	}
	_, err = Encode(map[string]any{"deep": deep})
	assert.ErrorContains(t, err, "nested deeper than 64")
}
