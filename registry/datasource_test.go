package registry

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDataSourcesGrantsMounts(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc", "awx"), 0o755))
	writeFiles(t, dir, map[string]string{
		"collectors.toml": `
[datasources.awx]
driver = "sqlite"
path = "data/awx.db"
max_rows = 10
timeout = "5s"

[datasources.pg]
driver = "postgres"
dsn = "host=127.0.0.1 user=awx dbname=awx"
password_env = "AWX_PASSWORD"
allow_privileged_role = true

[modules."jobs.wasm"]
datasources = ["awx"]
mounts = { "/etc/awx" = "etc/awx", "/Data/Upper" = "etc" }
env = ["TZ", "LANG"]

[[collector]]
key = "events"
version = "1"
module = "jobs.wasm"
datasources = ["pg"]
` + configCollector,
		"modules/jobs.wasm": wasmBytes,
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, &DataSource{Name: "awx", Driver: "sqlite", Path: filepath.Join(dir, "data", "awx.db"),
		MaxRows: 10, MaxBytes: 64 << 20, Timeout: 5 * time.Second}, reg.DataSources["awx"])
	require.Equal(t, &DataSource{Name: "pg", Driver: "postgres", DSN: "host=127.0.0.1 user=awx dbname=awx",
		PasswordEnv: "AWX_PASSWORD", MaxRows: 1_000_000, MaxBytes: 64 << 20, Timeout: 30 * time.Second,
		AllowPrivilegedRole: true}, reg.DataSources["pg"])
	ev := reg.Collector("events")[0]
	require.Equal(t, []string{"pg", "awx"}, ev.DataSources, "the collector's grants, then its module's")
	require.Equal(t, []string{"awx"}, reg.ConfigCollector().DataSources)
	require.Equal(t, []Mount{{Guest: "/Data/Upper", Host: filepath.Join(dir, "etc")}, {Guest: "/etc/awx", Host: filepath.Join(dir, "etc", "awx")}}, ev.Module.Mounts)
	require.Equal(t, []string{"TZ", "LANG"}, ev.Module.Env)
}

func TestDataSourceProblems(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []want
	}{
		{"unknown grant", `
[[collector]]
key = "x"
version = "1"
module = "jobs.wasm"
datasources = ["nope"]
`, []want{{"collectors.toml", 6, "collector[0].datasources", `unknown data source "nope" (none is declared)`}}},
		{"bad driver, missing path, secret in the TOML", `
[datasources.a]
driver = "mysql"
password = "x"
[datasources.b]
driver = "sqlite"
allow_privileged_role = true
[datasources.c]
driver = "postgres"
dsn = "host=x"
allow_privileged_role = "yes"
`, []want{
			{"collectors.toml", 3, "datasources.a.driver", `invalid driver "mysql": must be "sqlite" or "postgres"`},
			{"collectors.toml", 4, "datasources.a.password", "secrets never sit in the TOML"},
			{"collectors.toml", 5, "datasources.b.path", "a sqlite data source needs path (the database file)"},
			{"collectors.toml", 7, "datasources.b.allow_privileged_role", "not used by a sqlite data source"},
			{"collectors.toml", 11, "datasources.c.allow_privileged_role", "must be true or false, not a string"},
		}},
		{"postgres without a dsn, password in the dsn", `
[datasources.a]
driver = "postgres"
[datasources.b]
driver = "postgres"
dsn = "host=x password=hunter2"
`, []want{
			{"collectors.toml", 2, "datasources.a.dsn", "a postgres data source needs exactly one of dsn, dsn_env and dsn_file"},
			{"collectors.toml", 6, "datasources.b.dsn", "secrets never sit in the TOML"},
		}},
		{"timestamp formats", `
[datasources.a]
driver = "sqlite"
path = "a.db"
timestamp_format = "rfc2822"
[datasources.b]
driver = "postgres"
dsn = "host=x"
timestamp_format = "sqlite"
`, []want{
			{"collectors.toml", 5, "datasources.a.timestamp_format", `invalid timestamp_format "rfc2822": must be one of iso8601, iso8601-seconds, sqlite, sqlite-ms, unixepoch, unixepoch-ms`},
			{"collectors.toml", 9, "datasources.b.timestamp_format", "not used by a postgres data source"},
		}},
		{"slice guard", `
[[collector]]
key = "j"
version = "1"
module = "jobs.wasm"
time_column = "modified"
[[collector]]
key = "c"
version = "1"
format = "csv"
module = "jobs.wasm"
time_guard = "warn"
[[collector]]
key = "d"
version = "1"
format = "csv"
module = "jobs.wasm"
time_column = "modified"
time_guard = "ignore"
`, []want{
			{"collectors.toml", 6, "collector[0].time_column", "only allowed on a CSV collector"},
			{"collectors.toml", 12, "collector[1].time_guard", "needs time_column"},
			{"collectors.toml", 19, "collector[2].time_guard", `invalid time_guard "ignore": must be "fail" or "warn"`},
		}},
		{"bad mounts and env", `
[modules."jobs.wasm"]
mounts = { "relative/path" = ".", "/missing" = "no/such/dir" }
env = ["OK", "not ok"]
`, []want{
			{"collectors.toml", 3, "modules.\"jobs.wasm\".mounts.\"/missing\"", "host directory"},
			{"collectors.toml", 3, "modules.\"jobs.wasm\".mounts.\"relative/path\"", `guest path "relative/path" must be absolute`},
			{"collectors.toml", 4, "modules.\"jobs.wasm\".env", `invalid environment variable name "not ok"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"collectors.toml": tt.toml + configCollector, "modules/jobs.wasm": wasmBytes})
			_, err := Load(filepath.Join(dir, "collectors.toml"))
			var problems Problems
			require.ErrorAs(t, err, &problems)
			require.Len(t, problems, len(tt.want), "problems: %v", err)
			for i, w := range tt.want {
				require.Equal(t, w.line, problems[i].Line, "problem %d: %v", i, problems[i])
				require.Equal(t, w.field, problems[i].Field, "problem %d: %v", i, problems[i])
				require.Contains(t, problems[i].Message, w.msg, "problem %d", i)
			}
		})
	}
}
