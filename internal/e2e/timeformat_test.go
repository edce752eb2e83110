package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
	"github.com/wasmcollector/wasmcollector/packaging"
)

// boundaryDay starts the gathered window (day, day+48h], sliced every 4 hours: two days, so
// that a comparison that goes wrong across a day boundary shows.
var boundaryDay = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

const boundaryHours = 48

// boundaryTimes are event times on and around every slice boundary of the window, at the
// resolution given: exactly on it, one unit before and after, and mid-slice.
func boundaryTimes(unit time.Duration) []time.Time {
	var out []time.Time
	for h := 4; h <= boundaryHours; h += 4 {
		b := boundaryDay.Add(time.Duration(h) * time.Hour)
		out = append(out, b.Add(-2*time.Hour), b.Add(-unit), b)
		if h < boundaryHours {
			out = append(out, b.Add(unit))
		}
	}
	return append(out, boundaryDay.Add(unit))
}

// timeFormats are the timestamp_format values, each with how the product writes a time.
var timeFormats = []struct {
	name  string
	unit  time.Duration
	write func(time.Time) any
	decl  string
}{
	{"iso8601", time.Microsecond, func(t time.Time) any { return t.Format("2006-01-02T15:04:05.000000Z") }, "TIMESTAMP"},
	{"iso8601-seconds", time.Second, func(t time.Time) any { return t.Format("2006-01-02T15:04:05Z") }, "TIMESTAMP"},
	{"sqlite", time.Second, func(t time.Time) any { return t.Format("2006-01-02 15:04:05") }, "DATETIME"},
	{"sqlite-ms", time.Millisecond, func(t time.Time) any { return t.Format("2006-01-02 15:04:05.000") }, "DATETIME"},
	{"unixepoch", time.Second, func(t time.Time) any { return t.Unix() }, "INTEGER"},
	{"unixepoch-ms", time.Millisecond, func(t time.Time) any { return t.UnixMilli() }, "INTEGER"},
}

// eventsDB writes a SQLite database with table events(id, modified) holding times as write
// renders them.
func eventsDB(t *testing.T, decl string, times []time.Time, write func(time.Time) any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "product.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, modified ` + decl + `)`)
	require.NoError(t, err)
	for i, tm := range times {
		_, err := db.Exec(`INSERT INTO events VALUES (?, ?)`, i+1, write(tm))
		require.NoError(t, err)
	}
	return path
}

const boundsSQL = `SELECT id, modified FROM events WHERE modified > @since AND modified <= @until ORDER BY id`

// boundaryRegistry gathers events from db with the stream guest, sliced every 4 hours.
func boundaryRegistry(t *testing.T, db, format, query, guard string) (reg, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "out")
	tf := ""
	if format != "" {
		tf = fmt.Sprintf("timestamp_format = %q", format)
	}
	reg = testguests.Registry(t, map[string]string{
		"flaky.wasm":   testguests.Go(t, "internal/testguests/flaky"),
		"dbprobe.wasm": testguests.Go(t, "internal/testguests/dbprobe"),
	}, fmt.Sprintf(`
[gather]
out_dir = %q
state_dir = %q

[datasources.db]
driver = "sqlite"
path = %q
%s

[[collector]]
key = "config"
version = "1.0"
config = true
module = "flaky.wasm"
function = "info"

[[collector]]
key = "events"
version = "1.0"
format = "csv"
slicing = "4h"
module = "dbprobe.wasm"
function = "stream"
datasources = ["db"]
%s
[collector.params]
source = "db"
sql = %q
`, out, filepath.Join(dir, "state"), db, tf, guard, query))
	return reg, out
}

// slicedRows gathers (day, day+24h] as a dry run and returns, per event id, the end of each
// slice it was shipped in, and the gather's JSON result.
func slicedRows(t *testing.T, reg string) (map[int][]time.Time, gatherJSON, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"gather", "--dry-run", "-c", reg, "-o", "json", "--log-level", "warn",
		"--since", boundaryDay.Format(time.RFC3339), "--until", boundaryDay.Add(boundaryHours * time.Hour).Format(time.RFC3339)}, &stdout, &stderr)
	var res gatherJSON
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "stdout %s stderr %s", stdout.String(), stderr.String())
	rows := map[int][]time.Time{}
	for _, tb := range res.Tarballs {
		c, err := packaging.ReadTarball(tb.Path)
		require.NoError(t, err)
		var until time.Time
		for _, st := range c.Status {
			if st.FileName == "events.csv" {
				until, err = time.Parse("2006-01-02 15:04:05Z07:00", st.Until)
				require.NoError(t, err)
				until = until.UTC()
			}
		}
		for _, f := range readMembers(t, tb.Path) {
			if f.Name != "./events.csv" {
				continue
			}
			recs, err := csv.NewReader(bytes.NewReader(f.Data)).ReadAll()
			require.NoError(t, err)
			for _, r := range recs[1:] {
				id, err := strconv.Atoi(r[0])
				require.NoError(t, err)
				rows[id] = append(rows[id], until)
			}
		}
	}
	return rows, res, code, stderr.String()
}

type gatherJSON struct {
	Collectors []struct {
		Key, Status, Error string
		FailedSlices       int `json:"failed_slices"`
	}
	Tarballs []struct{ Path string }
}

// wantSlice is the end of the 4-hour slice (s, s+4h] holding t.
func wantSlice(t time.Time) time.Time {
	u := t.Truncate(4 * time.Hour)
	if !u.Equal(t) {
		u = u.Add(4 * time.Hour)
	}
	return u
}

// TestTimestampFormats: for each timestamp_format, rows on, just before and just after every
// slice boundary land in exactly the slice (since, until] that holds them.
func TestTimestampFormats(t *testing.T) {
	for _, f := range timeFormats {
		t.Run(f.name, func(t *testing.T) {
			times := boundaryTimes(f.unit)
			reg, _ := boundaryRegistry(t, eventsDB(t, f.decl, times, f.write), f.name, boundsSQL, "")
			rows, _, code, stderr := slicedRows(t, reg)
			require.Equal(t, 0, code, stderr)
			require.Len(t, rows, len(times), "every row was shipped")
			for i, tm := range times {
				got := rows[i+1]
				require.Len(t, got, 1, "row %d (%s) shipped once", i+1, tm)
				assert.Equal(t, wantSlice(tm), got[0], "row %d (%s) in the slice ending %s", i+1, tm, wantSlice(tm))
			}
		})
	}
}

// TestTimestampFormatMismatch shows the failure timestamp_format prevents: SQLite's own format
// compared with the default binding puts a whole day's rows in one slice (' ' sorts before 'T')
// and leaves the others empty, all reported ok. The slice guard
// catches it and fails the slice, naming the row, its value and the bounds; with
// time_guard = "warn" the rows are kept and logged.
func TestTimestampFormatMismatch(t *testing.T) {
	f := timeFormats[2] // sqlite
	times := boundaryTimes(f.unit)
	db := eventsDB(t, f.decl, times, f.write)

	reg, _ := boundaryRegistry(t, db, "", boundsSQL, "")
	rows, _, code, stderr := slicedRows(t, reg)
	require.Equal(t, 0, code, stderr)
	misplaced := 0
	for i, tm := range times {
		if got := rows[i+1]; len(got) != 1 || !got[0].Equal(wantSlice(tm)) {
			misplaced++
		}
	}
	assert.Greater(t, misplaced, len(times)/3, "without timestamp_format rows land in the wrong slice, silently")

	reg, _ = boundaryRegistry(t, db, "", boundsSQL, `time_column = "modified"`)
	_, res, code, stderr := slicedRows(t, reg)
	assert.Equal(t, 3, code, stderr)
	require.Len(t, res.Collectors, 2)
	ev := res.Collectors[1]
	assert.Equal(t, "partial", ev.Status, "the slices that received misplaced rows failed")
	assert.Positive(t, ev.FailedSlices)
	assert.Regexp(t, `^slice guard: row \d+: modified = "2026-11-2\dT\d\d:\d\d:\d\dZ" is outside the slice \(2026-11-2\dT\d\d:00:00Z, 2026-11-2\dT\d\d:00:00Z\]$`, ev.Error)

	reg, _ = boundaryRegistry(t, db, "", boundsSQL, "time_column = \"modified\"\ntime_guard = \"warn\"")
	rows, _, code, stderr = slicedRows(t, reg)
	assert.Equal(t, 0, code, stderr)
	assert.NotEmpty(t, rows, "warn keeps the rows")
	assert.Contains(t, stderr, "row outside its slice")
}

// TestSliceGuardCatchesIgnoredBounds: a collector whose query ignores @since and @until ships
// every row in every slice; the guard fails the first slice at its first row outside.
func TestSliceGuardCatchesIgnoredBounds(t *testing.T) {
	f := timeFormats[0]
	times := boundaryTimes(f.unit)
	db := eventsDB(t, f.decl, times, f.write)
	reg, _ := boundaryRegistry(t, db, f.name, `SELECT id, modified FROM events ORDER BY modified`, `time_column = "modified"`)
	_, res, code, stderr := slicedRows(t, reg)
	assert.Equal(t, 3, code, stderr)
	ev := res.Collectors[1]
	assert.Equal(t, "failed", ev.Status)
	assert.Contains(t, ev.Error, `slice guard: row 5: modified = "2026-11-26T04:00:00.000001Z" is outside the slice (2026-11-26T00:00:00Z, 2026-11-26T04:00:00Z]`)
}

// TestSliceGuardOnCopy: on PostgreSQL, StreamCSV is COPY … TO STDOUT, whose rows never pass
// through the guest; the guard checks them too. @since/@until bound as timestamptz put every row
// of the boundary set in its slice; a query ignoring them fails the slice.
func TestSliceGuardOnCopy(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE events (id integer PRIMARY KEY, modified timestamptz)`)
	require.NoError(t, err)
	times := boundaryTimes(time.Microsecond)
	for i, tm := range times {
		_, err := conn.Exec(ctx, `INSERT INTO events VALUES ($1, $2)`, i+1, tm)
		require.NoError(t, err)
	}
	ro := testpg.ReadOnlyDSN(t, dsn) // a superuser is refused as a data source
	registry := func(query string) string {
		reg, _ := boundaryRegistry(t, "", "", query, `time_column = "modified"`)
		b, err := os.ReadFile(reg)
		require.NoError(t, err)
		text := strings.Replace(string(b), "driver = \"sqlite\"\npath = \"\"", fmt.Sprintf("driver = \"postgres\"\ndsn = %q", ro), 1)
		require.NoError(t, os.WriteFile(reg, []byte(text), 0o644))
		return reg
	}

	rows, _, code, stderr := slicedRows(t, registry(boundsSQL))
	require.Equal(t, 0, code, stderr)
	require.Len(t, rows, len(times))
	for i, tm := range times {
		require.Len(t, rows[i+1], 1)
		assert.True(t, wantSlice(tm).Equal(rows[i+1][0]), "row %d (%s) in the slice ending %s, not %s", i+1, tm, wantSlice(tm), rows[i+1][0])
	}

	_, res, code, stderr := slicedRows(t, registry(`SELECT id, modified FROM events ORDER BY modified`))
	assert.Equal(t, 3, code, stderr)
	assert.Equal(t, "failed", res.Collectors[1].Status)
	assert.Contains(t, res.Collectors[1].Error, `slice guard: row 5: modified = "2026-11-26 04:00:00.000001+00" is outside the slice (2026-11-26T00:00:00Z, 2026-11-26T04:00:00Z]`)
	// Every slice fails for its own rows, none for want of a connection: a refused row ends the
	// COPY and frees its connection (it once leaked it, and the fifth slice waited for a free one).
	assert.Equal(t, boundaryHours/4, strings.Count(stderr, "error=\"slice guard: row "), stderr)
}
