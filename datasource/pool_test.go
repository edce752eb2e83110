package datasource

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/testpg"
)

// backendPID runs SELECT pg_backend_pid() on s: which server session ran
// the statement.
func backendPID(t *testing.T, s *Source) string {
	t.Helper()
	r, err := query(context.Background(), s, "SELECT pg_backend_pid()", nil)
	require.NoError(t, err)
	return fmt.Sprint(r.rows[0][0])
}

// sessions returns the server sessions of role, as the superuser of admin
// sees them.
func sessions(t *testing.T, admin, role string) []string {
	t.Helper()
	res := pgExec(t, admin, "SELECT pid FROM pg_stat_activity WHERE usename = '"+role+"' ORDER BY pid")
	var pids []string
	for _, row := range res[0].Rows {
		pids = append(pids, string(row[0]))
	}
	return pids
}

// terminate ends every session of role from the superuser's connection and
// waits until the server has ended them, so the pool holds connections the
// server has closed.
func terminate(t *testing.T, admin, role string) {
	t.Helper()
	pgExec(t, admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+role+"'")
	require.Eventually(t, func() bool { return len(sessions(t, admin, role)) == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestPoolMaxConns checks that a source holds no more than MaxConns
// connections however many statements run at once.
func TestPoolMaxConns(t *testing.T) {
	t.Parallel()
	admin := pgFixture(t)
	ro := testpg.ReadOnlyDSN(t, admin)
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: ro, MaxConns: 2})
	var mu sync.Mutex
	pids := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := query(context.Background(), s, "SELECT pg_backend_pid(), pg_sleep(0.2)", nil)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			pids[fmt.Sprint(r.rows[0][0])] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, pids, 2, "eight statements at once ran on MaxConns sessions, no more (pgxpool's default is at least 4)")
	require.Len(t, sessions(t, admin, dsnField(ro, "user")), 2, "and the pool keeps them")
}

// TestPoolClose checks that Close closes the idle connections at once and
// a busy one when its statement ends, without waiting for it.
func TestPoolClose(t *testing.T) {
	t.Parallel()
	admin := pgFixture(t)
	ro := testpg.ReadOnlyDSN(t, admin)
	role := dsnField(ro, "user")
	s, err := Open(context.Background(), Config{Name: "pg", Driver: Postgres, DSN: ro, MaxConns: 3})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := query(context.Background(), s, "SELECT pg_sleep(0.2)", nil)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Len(t, sessions(t, admin, role), 3)

	busy := make(chan error, 1)
	go func() {
		// Long enough that a loaded machine still sees the idle ones closed before it ends.
		_, err := query(context.Background(), s, "SELECT pg_sleep(6)", nil)
		busy <- err
	}()
	require.Eventually(t, func() bool {
		return len(pgExec(t, admin, "SELECT 1 FROM pg_stat_activity WHERE usename = '"+role+"' AND query LIKE '%pg_sleep(6)%'")[0].Rows) == 1
	}, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.NoError(t, s.Close())
	require.Less(t, time.Since(start), time.Second, "Close does not wait for the busy statement")
	require.Eventually(t, func() bool { return len(sessions(t, admin, role)) == 1 }, 5*time.Second, 10*time.Millisecond,
		"the idle connections are closed, the busy one is not")
	require.Less(t, time.Since(start), 6*time.Second, "the busy statement was still running when the idle ones were seen closed")
	require.NoError(t, <-busy, "the busy statement ends normally")
	require.Eventually(t, func() bool { return len(sessions(t, admin, role)) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the busy connection is closed when its statement ends")
	_, err = query(context.Background(), s, "SELECT 1", nil)
	require.EqualError(t, err, `datasource "pg": source is closed`)
}

// TestPoolDeadConnection kills pooled connections server-side
// (pg_terminate_backend, as after a server restart or by an
// administrator): the next statements run on fresh connections.
func TestPoolDeadConnection(t *testing.T) {
	t.Parallel()
	admin := pgFixture(t)
	for _, tt := range []struct {
		name     string
		maxConns int
		idle     time.Duration // between the kill and the next statement
	}{
		// Reused within the second: pgxpool does not ping it, the source
		// finds it dead when it begins the transaction.
		{name: "one connection, reused at once", maxConns: 1},
		{name: "every connection, reused at once", maxConns: 3},
		// Idle for over a second: pgxpool pings it before handing it out.
		{name: "idle", maxConns: 2, idle: 1100 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ro := testpg.ReadOnlyDSN(t, admin)
			role := dsnField(ro, "user")
			s := open(t, Config{Name: "pg", Driver: Postgres, DSN: ro, MaxConns: tt.maxConns})
			var wg sync.WaitGroup
			for range tt.maxConns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := query(context.Background(), s, "SELECT pg_sleep(0.2)", nil)
					require.NoError(t, err)
				}()
			}
			wg.Wait()
			before := sessions(t, admin, role)
			require.Len(t, before, tt.maxConns)
			terminate(t, admin, role)
			time.Sleep(tt.idle)

			pid := backendPID(t, s)
			require.NotContains(t, before, pid, "a fresh session")
			var csv strings.Builder
			n, err := s.StreamCSV(context.Background(), "SELECT count(*) AS n FROM events", nil, &csv)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			require.Equal(t, "n\n5\n", csv.String())
			require.Len(t, sessions(t, admin, role), 1, "the dead connections are gone from the pool")
		})
	}
}

// TestPrivilegeGrantedAfterOpen checks that the role is checked on every
// new connection, not only at Open: once it may write, the source refuses
// to run anything on a new connection.
func TestPrivilegeGrantedAfterOpen(t *testing.T) {
	t.Parallel()
	admin := pgFixture(t)
	ro := testpg.ReadOnlyDSN(t, admin)
	role := dsnField(ro, "user")
	s := open(t, Config{Name: "pg", Driver: Postgres, DSN: ro, MaxConns: 1})
	backendPID(t, s)
	pgExec(t, admin, "GRANT INSERT ON events TO "+role)
	terminate(t, admin, role)
	_, err := query(context.Background(), s, "SELECT 1", nil)
	require.ErrorIs(t, err, ErrPrivilegedRole)
	require.EqualError(t, err, `datasource "pg": role "`+role+`" may write to events; connect as a role that may only read (CONNECT, USAGE and SELECT), or set allow_privileged_role = true`)
}

// hostilePasswords are passwords that need quoting in either form of a
// connection string. Config.Password is never put in one.
var hostilePasswords = []string{
	"with space",
	`it's`,
	`"double"`,
	`back\slash\`,
	"user@host:5432/db?sslmode=disable#frag",
	"percent%20and%zz",
	"key=value password=other",
	"ünïcode ☃",
	" leading and trailing ",
}

// TestPassword checks that Config.Password logs in, for passwords a
// connection string would have to quote, with a DSN of either form; that
// it takes the place of a password in the DSN; and that no error quotes it.
func TestPassword(t *testing.T) {
	t.Parallel()
	admin := pgFixture(t)
	for _, password := range hostilePasswords {
		t.Run(password, func(t *testing.T) {
			t.Parallel()
			kv := testpg.PasswordDSN(t, admin, password)
			u := url.URL{Scheme: "postgres", User: url.User(dsnField(kv, "user")),
				Host: dsnField(kv, "host") + ":" + dsnField(kv, "port"), Path: "/" + dsnField(kv, "dbname"), RawQuery: "sslmode=disable"}
			for form, dsn := range map[string]string{
				"key=value":                       kv,
				"URL":                             u.String(),
				"key=value with another password": kv + " password=not-this-one",
				"URL with another password":       strings.Replace(u.String(), "@", ":not-this-one@", 1),
			} {
				s := open(t, Config{Name: "pg", Driver: Postgres, DSN: dsn, Password: password})
				r, err := query(context.Background(), s, "SELECT count(*) FROM events", nil)
				require.NoError(t, err, form)
				require.Equal(t, [][]any{{int64(5)}}, r.rows, form)

				for _, wrong := range []string{"", password + "x"} {
					_, err := Open(context.Background(), Config{Name: "pg", Driver: Postgres, DSN: dsn, Password: wrong})
					require.ErrorContains(t, err, `datasource "pg": connecting to postgres at 127.0.0.1:`, form)
					require.ErrorContains(t, err, "password authentication failed", form)
					require.NotContains(t, err.Error(), password, form)
				}
			}
		})
	}
}

// TestOpenSilentServer checks that Open gives up after Timeout on a server
// that accepts the connection and never answers, and does not wait for the
// pool's connection attempt, which goes on in the background, to end.
func TestOpenSilentServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	host, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	start := time.Now()
	_, err = Open(context.Background(), Config{Name: "pg", Driver: Postgres, Timeout: 300 * time.Millisecond, Password: "hunter2",
		DSN: "host=" + host + " port=" + port + " user=nobody dbname=x sslmode=disable"})
	require.EqualError(t, err, `datasource "pg": connecting to postgres at `+l.Addr().String()+`: context deadline exceeded`)
	require.Less(t, time.Since(start), 3*time.Second)
}
