package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/datasource"
)

// transformCollectors are the Go (dbprobe) and C (rowsc) guests handing spec to
// db_stream_csv_transform with sql.
func transformCollectors(sql, spec string) string {
	var b strings.Builder
	for _, g := range []struct{ key, module string }{{"transform", "dbprobe.wasm"}, {"transform_c", "rows_c.wasm"}} {
		fmt.Fprintf(&b, `
[[collector]]
key = %q
version = "1"
format = "csv"
module = %q
function = "transform"
[collector.params]
source = "db"
sql = %q
spec = %q
`, g.key, g.module, sql, spec)
	}
	return b.String()
}

// csvField is one field in the ABI's CSV form: NULL empty, "" quoted, quotes doubled.
func csvField(s string, null bool) string {
	if null {
		return ""
	}
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// TestStreamCSVTransform streams the values table through a spec that renames, hashes with a
// salt, drops and formats a timestamp, from a Go and a C guest, on SQLite and PostgreSQL: the
// output is what the test computes from the data source's own values, and an empty spec gives
// byte for byte what the row cursor writes.
func TestStreamCSVTransform(t *testing.T) {
	const sql = "SELECT id, i, f, t, b, ts, raw FROM vals WHERE id <> 3 ORDER BY id" // row 3's bytes are not UTF-8
	spec := `[{"column": "t", "hash": "sha256", "salt": "pepper", "rename": "t_hash"}, {"column": "raw", "drop": true},
	  {"column": "ts", "timestamp": "2006-01-02 15:04"}, {"column": "i", "rename": "n"}]`
	for _, b := range valsDatabases(t) {
		t.Run(b.name, func(t *testing.T) {
			reg := rowsRegistry(t, b.ds, sql, transformCollectors(sql, spec)+strings.ReplaceAll(
				strings.ReplaceAll(transformCollectors(sql, "[]"), `key = "transform"`, `key = "plain"`), `key = "transform_c"`, `key = "plain_c"`))
			driver := datasource.SQLite
			if b.name == "postgres" {
				driver = datasource.Postgres
			}
			src, err := datasource.Open(context.Background(), datasource.Config{Name: "check", Driver: driver, DSN: b.dsn})
			require.NoError(t, err)
			defer src.Close()
			want := "id,n,f,t_hash,b,ts\n"
			require.NoError(t, src.Query(context.Background(), sql, nil, func([]datasource.Column) error { return nil },
				func(row []any) error {
					var f []string
					for i, v := range row[:6] {
						var s string
						switch x := v.(type) {
						case nil:
						case int64:
							s = strconv.FormatInt(x, 10)
						case float64:
							s = strconv.FormatFloat(x, 'g', -1, 64)
						case bool:
							s = strconv.FormatBool(x)
						case string:
							sum := sha256.Sum256([]byte("pepper" + x))
							s = hex.EncodeToString(sum[:])
						case time.Time:
							s = x.UTC().Format("2006-01-02 15:04")
						default:
							return fmt.Errorf("column %d: unexpected %T", i, v)
						}
						f = append(f, csvField(s, v == nil))
					}
					want += strings.Join(f, ",") + "\n"
					return nil
				}))
			require.Equal(t, 5, strings.Count(want, "\n"))

			for _, key := range []string{"transform", "transform_c"} {
				out, errs, code := cliRun(t, "run", key, "-c", reg)
				require.Equal(t, 0, code, "%s: %s", key, errs)
				assert.Equal(t, want, out, key)
			}
			rows, errs, code := cliRun(t, "run", "rows", "-c", reg)
			require.Equal(t, 0, code, errs)
			for _, key := range []string{"plain", "plain_c"} {
				out, errs, code := cliRun(t, "run", key, "-c", reg)
				require.Equal(t, 0, code, "%s: %s", key, errs)
				assert.Equal(t, rows, out, "%s: an empty spec writes what the row cursor writes", key)
			}
		})
	}
}

// TestStreamCSVTransformBadSpecs hands the host broken specs from a C guest: each fails the
// invocation with status invalid (too_large for the oversized one) and a message naming the entry
// and the reason, before any row is written.
func TestStreamCSVTransformBadSpecs(t *testing.T) {
	b := valsDatabases(t)[0]
	cases := []struct{ name, spec, status, reason string }{
		{"not json", `not json`, "invalid", "spec is not a JSON array"},
		{"an object", `{"column": "t"}`, "invalid", "spec is not a JSON array"},
		{"unknown key", `[{"column": "t", "upper": true}]`, "invalid", `unknown field "upper"`},
		{"no column", `[{"rename": "x"}]`, "invalid", `spec entry 1: "column" is required`},
		{"column twice", `[{"column": "t"}, {"column": "t"}]`, "invalid", `spec entry 2: column "t" is named twice`},
		{"drop and rename", `[{"column": "t", "drop": true, "rename": "x"}]`, "invalid", "takes no other operation"},
		{"empty rename", `[{"column": "t", "rename": ""}]`, "invalid", `"rename" is empty`},
		{"unknown hash", `[{"column": "t", "hash": "md5"}]`, "invalid", `hash "md5" is not supported`},
		{"salt without hash", `[{"column": "t", "salt": "x"}]`, "invalid", `"salt" needs "hash"`},
		{"hash and timestamp", `[{"column": "ts", "hash": "sha256", "timestamp": "2006"}]`, "invalid", "do not combine"},
		{"long layout", `[{"column": "ts", "timestamp": "` + strings.Repeat("2006", 20) + `"}]`, "invalid", "layout of 80 bytes"},
		{"no such column", `[{"column": "nosuch"}]`, "invalid", `column "nosuch" is not in the result (columns: id, i, f, t, b, ts, raw)`},
		{"timestamp on int", `[{"column": "i", "timestamp": "2006"}]`, "invalid", `column "i" is int, not a timestamp`},
		{"two outputs of a name", `[{"column": "i", "rename": "t"}]`, "invalid", `output column "t" appears twice`},
		{"all dropped", `[{"column": "id", "drop": true}, {"column": "i", "drop": true}, {"column": "f", "drop": true},
			{"column": "t", "drop": true}, {"column": "b", "drop": true}, {"column": "ts", "drop": true}, {"column": "raw", "drop": true}]`,
			"invalid", "drops every column"},
		{"not utf-8", `[]`, "invalid", `row 3 column "raw": value is not UTF-8`},
		{"too large", "[" + strings.Repeat(" ", 70<<10) + "]", "too_large", "transform spec of 71682 bytes is over 65536"},
	}
	var collectors strings.Builder
	for i, c := range cases {
		fmt.Fprintf(&collectors, `
[[collector]]
key = "bad%d"
version = "1"
format = "csv"
module = "rows_c.wasm"
function = "transform"
[collector.params]
source = "db"
sql = %q
spec = %q
`, i, valsSQL, c.spec)
	}
	reg := rowsRegistry(t, b.ds, valsSQL, collectors.String())
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := cliRun(t, "run", fmt.Sprintf("bad%d", i), "-c", reg)
			assert.Equal(t, 1, code, errs)
			assert.Contains(t, errs, "db_stream_csv_transform: ")
			assert.Contains(t, errs, "(status "+c.status+")")
			assert.Contains(t, errs, c.reason)
			if c.name != "not utf-8" {
				assert.Empty(t, out, "nothing was written")
			}
		})
	}
}
