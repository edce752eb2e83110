package registry

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSchemaWalkTakesAnyValue walks, for every table of the schema, a document giving each key
// a value of every TOML type: the walk must never stop or panic, whatever the value, and a
// value it cannot convert is recorded with a code. A new field of a type the walk does not know
// fails here first.
func TestSchemaWalkTakesAnyValue(t *testing.T) {
	raws := []any{"x", int64(-1), 1.5, true, []any{"a", int64(1)}, []map[string]any{{"k": "v"}}, map[string]any{"k": "v"}}
	for _, v := range []any{&rootFile{}, &sidecarFile{}, &collectorTable{}, &moduleTable{}, &dataSourceTable{},
		&runtimeTable{}, &limitsTable{}, &gatherTable{}, &licenseTable{}, &shippingTable{}, &stateTable{}} {
		typ := reflect.TypeOf(v).Elem()
		for _, raw := range raws {
			doc := map[string]any{}
			for i := range typ.NumField() {
				doc[typ.Field(i).Tag.Get("toml")] = raw
			}
			var d decoder
			rv := reflect.New(typ)
			require.NotPanics(t, func() { d.table(doc, rv.Elem(), nil) }, "%s with %#v", typ, raw)
			for _, u := range d.unknown {
				require.Greater(t, len(u.p), 1, "%s: every key of the document is one of its fields: %s", typ, u.p)
			}
		}
	}
}

func TestValueRecordsProblems(t *testing.T) {
	tests := []struct {
		name string
		x    interface{ UnmarshalTOML(any) error }
		raw  any
		code Code
		msg  string
	}{
		{"string", &value[string]{}, int64(1), CodeWrongType, "must be a string, not an integer"},
		{"bool", &value[bool]{}, "yes", CodeWrongType, "must be true or false, not a string"},
		{"integer", &value[int64]{}, 1.5, CodeWrongType, "must be an integer, not a float"},
		{"names", &value[[]string]{}, []any{"a", int64(2)}, CodeWrongType, "must be an array of strings; found an integer"},
		{"size", &value[Size]{}, int64(-1), CodeInvalid, "invalid size -1: must not be negative"},
		{"size type", &value[Size]{}, true, CodeWrongType, `must be a size such as "64MiB" or an integer number of bytes, not a boolean`},
		{"timeout", &value[timeout]{}, "25h", CodeInvalid, `timeout "25h" must be at most 24h0m0s`},
		{"format", &value[Format]{}, "xml", CodeInvalid, `invalid format "xml": must be "json" or "csv"`},
		{"duration type", &value[Duration]{}, int64(3), CodeWrongType, "must be a string, not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.x.UnmarshalTOML(tt.raw), "a leaf records, never returns, what is wrong")
			rv := reflect.ValueOf(tt.x).Elem()
			require.True(t, rv.FieldByName("set").Bool())
			require.Equal(t, tt.code, Code(rv.FieldByName("code").String()))
			require.Equal(t, tt.msg, rv.FieldByName("msg").String())
			require.True(t, rv.FieldByName("v").IsZero(), "an unconverted value is left at zero")
		})
	}
	var s value[Size]
	require.NoError(t, s.UnmarshalTOML("64MiB"))
	require.Equal(t, value[Size]{v: 64 << 20, set: true, raw: "64MiB"}, s)
}

// A data source's name is the operator's to choose, capitals included: it is not a schema key,
// so it is not reported as one of the wrong case.
func TestLoadDataSourceNameWithCapitals(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules/jobs.wasm": wasmBytes,
		"collectors.toml":   "[datasources.AWX]\ndriver = \"sqlite\"\npath = \"awx.db\"\n" + configCollector + "datasources = [\"AWX\"]\n",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "awx.db"), reg.DataSources["AWX"].Path)
	require.Equal(t, []string{"AWX"}, reg.ConfigCollector().DataSources)
}

// Unknown keys on one line are reported in the order they are written, not by name.
func TestLoadUnknownKeysInWrittenOrder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"modules/jobs.wasm": wasmBytes,
		"collectors.toml":   "limits = { zeta = 1, alpha = 2, Max_Log_Bytes = 3 }\n" + configCollector,
	})
	_, err := Load(filepath.Join(dir, "collectors.toml"))
	ps := problems(t, err)
	var fields []string
	for _, p := range ps {
		require.Equal(t, 1, p.Line, p.Error())
		fields = append(fields, p.Field)
	}
	require.Equal(t, []string{"limits.zeta", "limits.alpha", "limits.Max_Log_Bytes"}, fields)
	require.Contains(t, ps[2].Message, `did you mean "max_log_bytes"?`)
}
