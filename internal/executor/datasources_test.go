package executor_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/internal/testpg"
	"github.com/wasmcollector/wasmcollector/registry"
)

func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }

// TestResolveDSN: the connection string and the password are resolved from where the TOML says
// they are, and returned apart: the string is the one given, never rewritten to hold the
// password.
func TestResolveDSN(t *testing.T) {
	dir := t.TempDir()
	const kv = "host=db.example user=awx dbname=awx"
	const u = "postgres://awx@db.example/awx?sslmode=verify-full"
	const hostile = ` it's "a" \ p@ss:w/rd?#%zz password=x `
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	t.Setenv("H14_DSN", u)
	t.Setenv("H14_PASSWORD", hostile)
	t.Setenv("H14_EMPTY", "")
	dsnFile := write("dsn", kv+"\n")
	pwFile := write("password", hostile+"\r\n")
	for _, tt := range []struct {
		name                                string
		dsn, dsnEnv, dsnFile, pwEnv, pwFile string
		wantDSN, wantPassword, wantErr      string
	}{
		{name: "no password", dsn: kv, wantDSN: kv},
		{name: "password from a variable", dsn: kv, pwEnv: "H14_PASSWORD", wantDSN: kv, wantPassword: hostile},
		{name: "password from a file, its line break trimmed", dsn: u, pwFile: pwFile, wantDSN: u, wantPassword: hostile},
		{name: "dsn from a variable", dsn: kv, dsnEnv: "H14_DSN", pwEnv: "H14_PASSWORD", wantDSN: u, wantPassword: hostile},
		{name: "dsn from a file", dsnFile: dsnFile, wantDSN: kv},
		{name: "password variable unset", dsn: kv, pwEnv: "H14_UNSET", wantErr: "password: secret: environment variable H14_UNSET is not set"},
		{name: "password variable empty", dsn: kv, pwEnv: "H14_EMPTY", wantErr: "password: secret: environment variable H14_EMPTY is empty"},
		{name: "password file missing", dsn: kv, pwFile: filepath.Join(dir, "nope"), wantErr: "password: secret file " + filepath.Join(dir, "nope")},
		{name: "dsn in two places", dsnEnv: "H14_DSN", dsnFile: dsnFile, wantErr: "dsn: secret: set env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn, password, err := executor.ResolveDSN(tt.dsn, tt.dsnEnv, tt.dsnFile, tt.pwEnv, tt.pwFile)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), hostile)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantDSN, dsn)
			require.Equal(t, tt.wantPassword, password)
		})
	}
}

// TestDataSourcePassword opens a PostgreSQL data source whose role logs in only with its
// password, one a connection string would have to quote, from a variable and from a file, with a
// DSN of either form: the password reaches the server as it is.
func TestDataSourcePassword(t *testing.T) {
	ctx := context.Background()
	admin := testpg.DSN(t)
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE events (id int); INSERT INTO events VALUES (1), (2)")
	conn.Close(ctx)
	require.NoError(t, err)
	for _, password := range []string{"with space", `it's "quoted"`, `back\slash`, "user@host:1/db?x#y%zz", "a=b password=c"} {
		t.Run(password, func(t *testing.T) {
			kv := testpg.PasswordDSN(t, admin, password)
			var user, host, port, db string
			for _, f := range strings.Fields(kv) {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "user":
					user = v
				case "host":
					host = v
				case "port":
					port = v
				case "dbname":
					db = v
				}
			}
			u := (&url.URL{Scheme: "postgres", User: url.User(user), Host: host + ":" + port, Path: "/" + db, RawQuery: "sslmode=disable"}).String()
			t.Setenv("H14_PASSWORD", password)
			pwFile := filepath.Join(t.TempDir(), "password")
			require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
			for name, src := range map[string]*registry.DataSource{
				"key=value, password from a variable": {DSN: kv, PasswordEnv: "H14_PASSWORD"},
				"URL, password from a file":           {DSN: u, PasswordFile: pwFile},
			} {
				src.Name, src.Driver = "awx", "postgres"
				reg := &registry.Registry{DataSources: map[string]*registry.DataSource{"awx": src}}
				sources := executor.NewDataSources(reg)
				granted, err := sources.Granted(ctx, &registry.Collector{Key: "events", DataSources: []string{"awx"}})
				require.NoError(t, err, name)
				var rows [][]any
				err = granted["awx"].Query(ctx, "SELECT id FROM events ORDER BY id", nil,
					func([]hostfuncs.Column) error { return nil },
					func(v []any) error { rows = append(rows, append([]any(nil), v...)); return nil })
				require.NoError(t, err, name)
				require.Equal(t, [][]any{{int64(1)}, {int64(2)}}, rows, name)
				require.NoError(t, sources.Close())
			}
		})
	}
}
