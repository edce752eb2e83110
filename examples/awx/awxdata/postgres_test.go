//go:build !wasip1

package awxdata

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

// TestLoadPostgres loads a dataset into PostgreSQL and reads every row back: the values are the
// generated ones, and the same SQL text counts the same rows there and in SQLite.
func TestLoadPostgres(t *testing.T) {
	ctx := context.Background()
	o := Options{Scale: 2, Until: testUntil, Seed: 11}
	var want rowSink
	require.NoError(t, Generate(o, &want))

	dsn := testpg.DSN(t)
	done := map[string]int64{}
	o.Progress = func(p Progress) {
		if p.Done {
			done[p.Table] = p.Rows
		}
	}
	start := time.Now()
	require.NoError(t, LoadPostgres(ctx, dsn, o))
	t.Logf("loaded scale 2 into PostgreSQL in %v", time.Since(start))
	require.NoError(t, LoadPostgres(ctx, dsn, o), "loading again replaces the tables")

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, tb := range Tables {
		assert.Equal(t, int64(len(want.rows[tb])), done[tb.Name], tb.Name)
		rows, err := conn.Query(ctx, "SELECT * FROM "+tb.Name+" ORDER BY id")
		require.NoError(t, err)
		i := 0
		for rows.Next() {
			got, err := rows.Values()
			require.NoError(t, err)
			require.Less(t, i, len(want.rows[tb]), tb.Name)
			for c, v := range want.rows[tb][i] {
				if w, ok := v.(time.Time); ok {
					require.True(t, w.Equal(got[c].(time.Time)), "%s row %d %s: %v, want %v", tb.Name, i, tb.Columns[c].Name, got[c], w)
					continue
				}
				require.Equal(t, v, got[c], "%s row %d %s", tb.Name, i, tb.Columns[c].Name)
			}
			i++
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, len(want.rows[tb]), i, tb.Name)
	}

	// The same statements, with the window bound the way the data source layer binds it.
	path := filepath.Join(t.TempDir(), "awx.db")
	require.NoError(t, LoadSQLite(ctx, path, Options{Scale: 2, Until: testUntil, Seed: 11}))
	lite, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer lite.Close()
	since, until := testUntil.Add(-30*time.Hour), testUntil.Add(-2*time.Hour)
	for _, q := range []string{
		"SELECT COUNT(*) FROM main_jobevent WHERE modified > @since AND modified <= @until",
		"SELECT COUNT(*) FROM main_jobevent WHERE failed = TRUE AND host_id IS NOT NULL",
		"SELECT COUNT(*) FROM main_unifiedjob WHERE (created > @since AND created <= @until) OR (finished > @since AND finished <= @until)",
		"SELECT COUNT(*) FROM main_hostmetric WHERE deleted = FALSE AND last_automation > @since",
		"SELECT COUNT(*) FROM main_host WHERE enabled = TRUE",
	} {
		var fromPG, fromSQLite int64
		require.NoError(t, conn.QueryRow(ctx, q, pgx.NamedArgs{"since": since, "until": until}).Scan(&fromPG), q)
		require.NoError(t, lite.QueryRow(q, sql.Named("since", FormatTime(since)), sql.Named("until", FormatTime(until))).Scan(&fromSQLite), q)
		assert.Equal(t, fromPG, fromSQLite, q)
		assert.Positive(t, fromPG, q)
	}
}
