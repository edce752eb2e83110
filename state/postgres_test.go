package state_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
	"github.com/wasmcollector/wasmcollector/state"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

func TestLockKeyMatchesUpstream(t *testing.T) {
	assert.Equal(t, int64(5213266487902095019), state.LockKey("gather_analytics_lock"))
}

func TestPGStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	s, err := state.OpenPostgres(ctx, dsn, "", "")
	require.NoError(t, err)
	defer s.Close()

	st, err := s.Load(ctx)
	require.NoError(t, err)
	assert.True(t, st.LastGather.IsZero())
	assert.Empty(t, st.Entries)

	t0 := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	want := state.State{LastGather: t0, Entries: map[string]time.Time{"events": t0.Add(-time.Hour), "events_full": t0}}
	require.NoError(t, s.Save(ctx, want))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// A second store (another node) sees it; a save replaces, dropping removed keys.
	other, err := state.OpenPostgres(ctx, dsn, "", "")
	require.NoError(t, err)
	defer other.Close()
	want.Entries = map[string]time.Time{"counts": t0}
	require.NoError(t, other.Save(ctx, want))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Pending tarballs survive in their order, and a save without them drops them.
	want.Pending = []state.Pending{
		{Name: "b.tar.gz", Path: "/out/pending/b.tar.gz", SHA256: strings.Repeat("ab", 32), Size: 7, Slices: []state.PendingSlice{
			{Key: "events", Since: t0.Add(-4 * time.Hour), Until: t0, Part: 1, Parts: 2},
			{Key: "jobs", Since: t0.Add(-time.Hour), Until: t0, Part: 1, Parts: 1},
		}},
		{Name: "a.tar.gz", Path: "/out/pending/a.tar.gz", SHA256: strings.Repeat("01", 32), Size: 9, Shipped: true, Slices: []state.PendingSlice{
			{Key: "events", Since: t0.Add(-4 * time.Hour), Until: t0, Part: 2, Parts: 2},
		}},
	}
	require.NoError(t, s.Save(ctx, want))
	got, err = other.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	want.Pending = nil
	require.NoError(t, s.Save(ctx, want))
	got, err = other.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// TestPGLock: the advisory lock excludes other nodes (a hammer of stores on separate
// connections), is released by unlock, and by the server when the holder's connection dies.
func TestPGLock(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	const nodes = 6
	stores := make([]*state.PGStore, nodes)
	for i := range stores {
		s, err := state.OpenPostgres(ctx, dsn, "", "test_lock")
		require.NoError(t, err)
		defer s.Close()
		stores[i] = s
	}
	var holders, max atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 30 {
				unlock, err := s.TryLock(ctx)
				if err != nil {
					assert.ErrorIs(t, err, state.ErrLocked)
					continue
				}
				n := holders.Add(1)
				for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
				}
				holders.Add(-1)
				require.NoError(t, unlock())
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), max.Load(), "never two holders")

	// A holder that dies: closing its connection releases the lock on the server.
	holder, err := state.OpenPostgres(ctx, dsn, "", "test_lock")
	require.NoError(t, err)
	_, err = holder.TryLock(ctx)
	require.NoError(t, err)
	_, err = stores[0].TryLock(ctx)
	require.ErrorIs(t, err, state.ErrLocked)
	assert.Contains(t, err.Error(), `the cluster lock "test_lock"`)
	require.NoError(t, holder.Close())
	// The server releases the lock when the closed connection's backend has exited, which it
	// does asynchronously: wait for that by taking the lock, blocking, on another connection.
	waiter, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer waiter.Close(ctx)
	_, err = waiter.Exec(ctx, `SET statement_timeout = '10s'`)
	require.NoError(t, err)
	_, err = waiter.Exec(ctx, `SELECT pg_advisory_lock($1)`, state.LockKey("test_lock"))
	require.NoError(t, err, "the dead holder's lock is released")
	_, err = waiter.Exec(ctx, `SELECT pg_advisory_unlock($1)`, state.LockKey("test_lock"))
	require.NoError(t, err)
	unlock, err := stores[0].TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, unlock())
}

// TestPGMigrations: from an empty database, and from the previous schema version with data in
// it, which survives.
func TestPGMigrations(t *testing.T) {
	ctx := context.Background()
	t.Run("empty database", func(t *testing.T) {
		s, err := state.OpenPostgres(ctx, testpg.DSN(t), "", "")
		require.NoError(t, err)
		s.Close()
	})
	t.Run("from version 1", func(t *testing.T) {
		dsn := testpg.DSN(t)
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		for _, sql := range []string{
			`CREATE TABLE wasmcollector_schema (version integer NOT NULL)`,
			`INSERT INTO wasmcollector_schema VALUES (1)`,
			`CREATE TABLE wasmcollector_state (id integer PRIMARY KEY CHECK (id = 1), last_gather timestamptz)`,
			`CREATE TABLE wasmcollector_entries (key text PRIMARY KEY, value timestamptz NOT NULL)`,
			`INSERT INTO wasmcollector_state VALUES (1, '2026-11-20T00:00:00Z')`,
			`INSERT INTO wasmcollector_entries VALUES ('events', '2026-11-19T22:00:00Z')`,
		} {
			_, err := conn.Exec(ctx, sql)
			require.NoError(t, err)
		}
		s, err := state.OpenPostgres(ctx, dsn, "", "")
		require.NoError(t, err)
		defer s.Close()
		st, err := s.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), st.LastGather)
		assert.Equal(t, map[string]time.Time{"events": time.Date(2026, 11, 19, 22, 0, 0, 0, time.UTC)}, st.Entries)
		var version int
		require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM wasmcollector_schema`).Scan(&version))
		assert.Equal(t, 3, version)
		var by string
		require.NoError(t, conn.QueryRow(ctx, `SELECT updated_by FROM wasmcollector_entries WHERE key = 'events'`).Scan(&by))
		assert.Equal(t, "", by, "the new column has its default for old rows")
	})
	t.Run("a newer schema is refused", func(t *testing.T) {
		dsn := testpg.DSN(t)
		s, err := state.OpenPostgres(ctx, dsn, "", "")
		require.NoError(t, err)
		s.Close()
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `UPDATE wasmcollector_schema SET version = 9`)
		require.NoError(t, err)
		_, err = state.OpenPostgres(ctx, dsn, "", "")
		require.ErrorContains(t, err, "schema version 9; this wasmcollector knows up to 3")
	})
}

// TestPGStorePassword: the password is given apart from the DSN, in either form, and set on
// the parsed settings, so one a connection string would have to quote works as it is; it takes
// the place of one in the DSN, and no error quotes it.
func TestPGStorePassword(t *testing.T) {
	ctx := context.Background()
	admin := testpg.DSN(t)
	for _, password := range []string{"with space", `it's "quoted" \ and @:/?#%`, "key=value password=other"} {
		t.Run(password, func(t *testing.T) {
			kv := testpg.PasswordDSN(t, admin, password)
			role := dsnField(kv, "user")
			conn, err := pgx.Connect(ctx, admin)
			require.NoError(t, err)
			_, err = conn.Exec(ctx, `GRANT CREATE ON SCHEMA public TO `+role)
			conn.Close(ctx)
			require.NoError(t, err)
			u := url.URL{Scheme: "postgres", User: url.UserPassword(role, "not-this-one"),
				Host: dsnField(kv, "host") + ":" + dsnField(kv, "port"), Path: "/" + dsnField(kv, "dbname"), RawQuery: "sslmode=disable"}
			for form, dsn := range map[string]string{"key=value": kv, "URL with another password": u.String()} {
				s, err := state.OpenPostgres(ctx, dsn, password, "")
				require.NoError(t, err, form)
				want := state.State{LastGather: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Entries: map[string]time.Time{}}
				require.NoError(t, s.Save(ctx, want), form)
				got, err := s.Load(ctx)
				require.NoError(t, err, form)
				assert.Equal(t, want, got, form)
				require.NoError(t, s.Close())

				_, err = state.OpenPostgres(ctx, dsn, password+"x", "")
				require.ErrorContains(t, err, "state: connect to postgres: ", form)
				require.ErrorContains(t, err, "password authentication failed", form)
				require.NotContains(t, err.Error(), password, form)
			}
		})
	}
	_, err := state.OpenPostgres(ctx, "postgres://u:secret@host:port/db", "hunter2", "")
	require.EqualError(t, err, "state: invalid postgres connection string")
}

// dsnField returns the value of key in a key=value DSN.
func dsnField(dsn, key string) string {
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
