package registry

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoadServe: [serve] left out or empty gives the defaults; each key set is read, relative
// paths against the root file.
func TestLoadServe(t *testing.T) {
	defaults := ServeSettings{Interval: 4 * time.Hour, Listen: "127.0.0.1:9110", Watch: true}
	tests := []struct {
		name string
		toml string
		want func(dir string) ServeSettings
	}{
		{name: "no table", toml: "", want: func(string) ServeSettings { return defaults }},
		{name: "empty table", toml: "[serve]\n", want: func(string) ServeSettings { return defaults }},
		{name: "empty cron is unset", toml: "[serve]\ncron = \"\"\n", want: func(string) ServeSettings { return defaults }},
		{
			name: "interval, jitter and the rest",
			toml: "[serve]\ninterval = \"1d\"\njitter = \"10m\"\nlisten = \"[::1]:0\"\nbasic_auth_file = \"secrets/auth\"\nwatch = false\n",
			want: func(dir string) ServeSettings {
				return ServeSettings{Interval: 24 * time.Hour, Jitter: 10 * time.Minute, Listen: "[::1]:0",
					BasicAuthFile: filepath.Join(dir, "secrets", "auth")}
			},
		},
		{
			name: "cron replaces the default interval",
			toml: "[serve]\ncron = \"TZ=Europe/Paris 30 */4 * * *\"\njitter = \"2h\"\nlisten = \":9110\"\nbasic_auth_file = \"/etc/wc/auth\"\n",
			want: func(string) ServeSettings {
				// Jitter below the cron expression's shortest gap is accepted (3h, the night
				// Paris moves its clocks forward).
				return ServeSettings{Cron: "TZ=Europe/Paris 30 */4 * * *", Jitter: 2 * time.Hour, Listen: ":9110",
					BasicAuthFile: "/etc/wc/auth", Watch: true}
			},
		},
		{
			name: "record keys",
			toml: "[serve]\nrecord_dir = \"records\"\nrecord = \"failures\"\nrecord_keep = 12\nrecord_keep_bytes = \"1536MiB\"\nrecord_output = true\nrecord_secrets = true\n",
			want: func(dir string) ServeSettings {
				return ServeSettings{Interval: 4 * time.Hour, Listen: "127.0.0.1:9110", Watch: true,
					Record: RecordSettings{Dir: filepath.Join(dir, "records"), Keep: RecordFailures, KeepGathers: 12,
						KeepBytes: 3 << 29, Output: true, Secrets: true}}
			},
		},
		{
			name: "record defaults: everything, 256 MiB, no output, no secrets",
			toml: "[serve]\nrecord_dir = \"/var/lib/wc/records\"\n",
			want: func(string) ServeSettings {
				return ServeSettings{Interval: 4 * time.Hour, Listen: "127.0.0.1:9110", Watch: true,
					Record: RecordSettings{Dir: "/var/lib/wc/records", Keep: RecordAll, KeepBytes: 256 << 20}}
			},
		},
		{
			name: "a descriptor",
			toml: "[serve]\ncron = \"@every 90m\"\nlisten = \"collector.example.com:80\"\n",
			want: func(string) ServeSettings {
				return ServeSettings{Cron: "@every 90m", Listen: "collector.example.com:80", Watch: true}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"collectors.toml": tt.toml + configCollector, "modules/jobs.wasm": wasmBytes})
			reg, err := Load(filepath.Join(dir, "collectors.toml"))
			require.NoError(t, err)
			want := tt.want(dir)
			if want.Record == (RecordSettings{}) { // the cases that set no record key
				want.Record = defaultServe().Record
			}
			require.Equal(t, want, reg.Serve)
		})
	}
}

// TestLoadServeProblems: every bad [serve] value is a problem at its file, line and field, all
// reported at once, with what to write instead.
func TestLoadServeProblems(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []want
	}{
		{
			name: "interval and cron together",
			toml: "[serve]\ninterval = \"1h\"\ncron = \"@hourly\"\n",
			want: []want{{"collectors.toml", 3, "serve.cron", "cron and interval exclude each other"}},
		},
		{
			name: "a cron expression the parser refuses",
			toml: "[serve]\n\ncron = \"61 * * * *\"\n",
			want: []want{{"collectors.toml", 3, "serve.cron", `invalid cron "61 * * * *": end of range (61) above maximum (59): 61`}},
		},
		{
			name: "too few fields and an unknown zone",
			toml: "[serve]\ncron = \"0 3 * *\"\n[gather]\n",
			want: []want{{"collectors.toml", 2, "serve.cron", "expected exactly 5 fields, found 4"}},
		},
		{
			name: "unknown zone",
			toml: "[serve]\ncron = \"TZ=Mars/Olympus 0 3 * * *\"\n",
			want: []want{{"collectors.toml", 2, "serve.cron", "provided bad location Mars/Olympus"}},
		},
		{
			name: "durations out of range and of the wrong type",
			toml: "[serve]\ninterval = \"0s\"\njitter = \"-1m\"\n",
			want: []want{
				{"collectors.toml", 2, "serve.interval", `interval "0s" must be more than 0`},
				{"collectors.toml", 3, "serve.jitter", `jitter "-1m" must not be negative`},
			},
		},
		{
			name: "interval too long, not a duration",
			toml: "[serve]\ninterval = \"3651d\"\njitter = 5\n",
			want: []want{
				{"collectors.toml", 2, "serve.interval", `interval "3651d" must be at most 3650d`},
				{"collectors.toml", 3, "serve.jitter", "must be a string, not an integer"},
			},
		},
		{
			name: "jitter not below the interval",
			toml: "[serve]\ninterval = \"1h\"\njitter = \"60m\"\n",
			want: []want{{"collectors.toml", 3, "serve.jitter", `jitter "60m" must be less than the interval, 1h`}},
		},
		{
			name: "jitter not below the default interval",
			toml: "[serve]\njitter = \"1d\"\n",
			want: []want{{"collectors.toml", 2, "serve.jitter", `jitter "1d" must be less than the interval, 4h`}},
		},
		{
			name: "jitter not below a cron expression's gap",
			toml: "[serve]\ncron = \"30 */4 * * *\"\n\njitter = \"5h\"\n",
			want: []want{{"collectors.toml", 4, "serve.jitter", `jitter "5h" must be less than the shortest time between two firings of cron "30 */4 * * *", 4h`}},
		},
		{
			name: "jitter not below the shortest of uneven cron gaps",
			toml: "[serve]\ncron = \"0 9,17 * * *\"\njitter = \"8h\"\n",
			want: []want{{"collectors.toml", 3, "serve.jitter", `jitter "8h" must be less than the shortest time between two firings of cron "0 9,17 * * *", 8h`}},
		},
		{
			name: "listen without a port",
			toml: "[serve]\nlisten = \"127.0.0.1\"\n",
			want: []want{{"collectors.toml", 2, "serve.listen", `invalid listen "127.0.0.1": want host:port`}},
		},
		{
			name: "listen with a bad port",
			toml: "[serve]\nlisten = \"localhost:http\"\n",
			want: []want{{"collectors.toml", 2, "serve.listen", "the port must be a number from 0 to 65535"}},
		},
		{
			name: "listen port out of range",
			toml: "[serve]\nlisten = \"localhost:65536\"\n",
			want: []want{{"collectors.toml", 2, "serve.listen", "the port must be a number from 0 to 65535"}},
		},
		{
			name: "listen host with a space",
			toml: "[serve]\nlisten = \"local host:9110\"\n",
			want: []want{{"collectors.toml", 2, "serve.listen", "the host must be an IP address or a host name"}},
		},
		{
			name: "wrong types and an unknown key",
			toml: "[serve]\nwatch = \"yes\"\nbasic_auth_file = 1\nout = \"x\"\n",
			want: []want{
				{"collectors.toml", 2, "serve.watch", "must be true or false, not a string"},
				{"collectors.toml", 3, "serve.basic_auth_file", "must be a string, not an integer"},
				{"collectors.toml", 4, "serve.out", "unknown key"},
			},
		},
		{
			name: "record values out of range",
			toml: "[serve]\nrecord_dir = \"r\"\nrecord = \"errors\"\nrecord_keep = -1\nrecord_keep_bytes = \"512KiB\"\n",
			want: []want{
				{"collectors.toml", 3, "serve.record", `invalid record "errors": want "all" or "failures"`},
				{"collectors.toml", 4, "serve.record_keep", "record_keep -1 must be from 0 (no bound by count) to 10000 gathers"},
				{"collectors.toml", 5, "serve.record_keep_bytes", "record_keep_bytes 512 KiB is too small: must be at least 1 MiB"},
			},
		},
		{
			name: "record values of the wrong type or unreadable",
			toml: "[serve]\nrecord_dir = true\nrecord_keep = \"5\"\nrecord_keep_bytes = \"lots\"\nrecord_output = \"yes\"\nrecord_secrets = 1\nrecord = 2\n",
			want: []want{
				{"collectors.toml", 2, "serve.record_dir", "must be a string, not a boolean"},
				{"collectors.toml", 3, "serve.record_keep", "must be an integer, not a string"},
				{"collectors.toml", 4, "serve.record_keep_bytes", "lots"},
				{"collectors.toml", 5, "serve.record_output", "must be true or false, not a string"},
				{"collectors.toml", 6, "serve.record_secrets", "must be true or false, not an integer"},
				{"collectors.toml", 7, "serve.record", "must be a string, not an integer"},
			},
		},
		{
			name: "not a table",
			toml: "serve = \"4h\"\n",
			want: []want{{"collectors.toml", 1, "serve", "must be a table"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"collectors.toml": tt.toml + configCollector, "modules/jobs.wasm": wasmBytes})
			_, err := Load(filepath.Join(dir, "collectors.toml"))
			ps := problems(t, err)
			require.Len(t, ps, len(tt.want), "%v", ps)
			for i, w := range tt.want {
				p := ps[i]
				require.Equal(t, filepath.Join(dir, w.file), p.File)
				require.Equal(t, w.line, p.Line, "%v", p)
				require.Equal(t, w.field, p.Field, "%v", p)
				require.Contains(t, p.Message, w.msg)
				require.Equal(t, codeForServe(w.msg), p.Code, "%v", p)
			}
		})
	}
}

// codeForServe is the code each message of TestLoadServeProblems comes with.
func codeForServe(msg string) Code {
	switch {
	case regexp.MustCompile(`^must be (a|true)`).MatchString(msg):
		return CodeWrongType
	case msg == "unknown key":
		return CodeUnknownKey
	}
	return CodeInvalid
}

// TestServeInSidecar: [serve] belongs to the operator's file; a sidecar's is refused, its
// module disabled.
func TestServeInSidecar(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":   configCollector,
		"modules/jobs.wasm": wasmBytes,
		"modules/side.wasm": wasmBytes,
		"modules/side.toml": "[serve]\ninterval = \"1m\"\n[[collector]]\nkey = \"side\"\nversion = \"1\"\n",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Len(t, reg.Disabled, 1)
	require.Equal(t, CodeNotAllowed, reg.Disabled[0].Problems[0].Code)
	require.Contains(t, reg.Disabled[0].Problems[0].Message, "[serve] is not allowed in a sidecar")
	require.Equal(t, DefaultServeInterval, reg.Serve.Interval)
}

// TestParseCron: the parser serve uses gives the times a cron expression names, in its zone.
func TestParseCron(t *testing.T) {
	next, err := ParseCron("TZ=UTC 30 */4 * * *")
	require.NoError(t, err)
	from := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	require.Equal(t, time.Date(2026, 12, 2, 12, 30, 0, 0, time.UTC), next(from).UTC())
	_, err = ParseCron("every tuesday")
	require.Error(t, err)
}

// TestCronShortestGap: the shortest time between consecutive firings, over the next firings of
// the parser serve uses, whatever the gaps' order; and the jitter check built on it.
func TestCronShortestGap(t *testing.T) {
	from := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		expr   string
		gap    time.Duration
		jitter time.Duration // the longest jitter accepted: gap - 1s
	}{
		{"*/5 * * * *", 5 * time.Minute, 5*time.Minute - time.Second},
		{"@hourly", time.Hour, time.Hour - time.Second},
		{"@every 90m", 90 * time.Minute, 90*time.Minute - time.Second},
		{"TZ=UTC 0 9,17 * * *", 8 * time.Hour, 8*time.Hour - time.Second},        // 8h then 16h
		{"TZ=UTC 0 3 * * 1,2", 24 * time.Hour, 24*time.Hour - time.Second},       // Monday to Tuesday, not the 6 days after
		{"TZ=UTC 0 0 1 * *", 28 * 24 * time.Hour, 28*24*time.Hour - time.Second}, // February, months ahead of from
		// Daylight saving: 01:30 to 03:30 is 1h, not 2h, the night the clocks go forward.
		{"TZ=Europe/Paris 30 1,3 * * *", time.Hour, time.Hour - time.Second},
		{"TZ=UTC 0 0 29 2 *", 4*365*24*time.Hour + 24*time.Hour, 1461*24*time.Hour - time.Second}, // every leap year
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			next, err := ParseCron(tt.expr)
			require.NoError(t, err)
			gap, ok := CronShortestGap(next, from, cronGapFirings)
			require.True(t, ok)
			require.Equal(t, tt.gap, gap)
			require.Empty(t, CheckCronJitter(tt.expr, tt.jitter, from))
			require.Contains(t, CheckCronJitter(tt.expr, tt.gap, from), "must be less than the shortest time between two firings")
		})
	}
	// An expression with one firing only has no gap.
	next, err := ParseCron("TZ=UTC 0 0 1 1 *")
	require.NoError(t, err)
	_, ok := CronShortestGap(next, from, 1)
	require.False(t, ok)
}

// TestSampleServe: the sample's [serve] options, uncommented, are the defaults.
func TestSampleServe(t *testing.T) {
	uncomment := regexp.MustCompile(`(?m)^(\s*)# `)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collectors.toml":      string(uncomment.ReplaceAll(Sample(), []byte("$1"))),
		"modules/example.wasm": "",
	})
	reg, err := Load(filepath.Join(dir, "collectors.toml"))
	require.NoError(t, err)
	require.Equal(t, defaultServe(), reg.Serve)
}
