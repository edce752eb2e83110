package worker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParamsRoundTrip: TOML values cross the process boundary unchanged, types included (plain
// JSON would turn integers into floats and dates into strings).
func TestParamsRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.FixedZone("", 3600))
	in := map[string]any{
		"int": int64(1 << 60), "neg": int64(-7), "float": 1.5, "text": "a,b\n\"c\"", "yes": true, "when": when,
		"list": []any{int64(1), "two", []any{}}, "table": map[string]any{"nested": map[string]any{"x": 2.0}},
		"tables": []map[string]any{{"k": "v"}}, "empty": map[string]any{},
	}
	enc, err := EncodeParams(in)
	require.NoError(t, err)
	b, err := json.Marshal(enc)
	require.NoError(t, err)
	var back map[string]Param
	require.NoError(t, json.Unmarshal(b, &back))
	out := DecodeParams(back)
	want := map[string]any{}
	for k, v := range in {
		want[k] = v
	}
	want["tables"] = []any{map[string]any{"k": "v"}} // the decoder's own shape for an array of tables
	assert.True(t, out["when"].(time.Time).Equal(when))
	delete(want, "when")
	delete(out, "when")
	assert.Equal(t, want, out)

	_, err = EncodeParams(map[string]any{"bad": struct{}{}})
	assert.ErrorContains(t, err, `parameter "bad": value of type struct {} cannot be passed to a worker`)
	deep := any("leaf")
	for range maxParamDepth + 2 {
		deep = []any{deep}
	}
	_, err = EncodeParams(map[string]any{"deep": deep})
	assert.ErrorContains(t, err, "nested deeper than 64")
}
