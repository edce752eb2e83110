package servecmd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/serve"
	"github.com/wasmcollector/wasmcollector/registry"
)

// TestResolve: each setting is the flag's when the flag was given, else the file's, whose
// defaults the registry applied; --interval and --cron replace the file's schedule of either
// kind; what only the flags and the file together make wrong names both.
func TestResolve(t *testing.T) {
	defaults := registry.ServeSettings{Interval: registry.DefaultServeInterval, Listen: registry.DefaultServeListen, Watch: true}
	file := registry.ServeSettings{Cron: "0 3 * * *", Jitter: 20 * time.Minute, Listen: "127.0.0.2:9110", BasicAuthFile: "/etc/wc/auth", Watch: false}
	fileInterval := registry.ServeSettings{Interval: time.Hour, Jitter: 30 * time.Minute, Listen: defaultListen, Watch: true}
	flags := func(given map[string]bool, o Options) *Options {
		o.Changed = func(name string) bool { return given[name] }
		return &o
	}
	tests := []struct {
		name    string
		opts    *Options
		file    registry.ServeSettings
		want    settings
		wantErr string
	}{
		{
			name: "defaults",
			opts: &Options{}, file: defaults,
			want: settings{timing: serve.Timing{Interval: 4 * time.Hour}, listen: "127.0.0.1:9110", watch: true},
		},
		{
			name: "the file",
			opts: &Options{}, file: file,
			want: settings{timing: serve.Timing{Cron: "0 3 * * *", Jitter: 20 * time.Minute}, listen: "127.0.0.2:9110", authFile: "/etc/wc/auth"},
		},
		{
			name: "flags not given keep the file's, whatever their values",
			opts: flags(nil, Options{Interval: time.Minute, Listen: "x", NoWatch: true}), file: file,
			want: settings{timing: serve.Timing{Cron: "0 3 * * *", Jitter: 20 * time.Minute}, listen: "127.0.0.2:9110", authFile: "/etc/wc/auth"},
		},
		{
			name: "every flag over the file",
			opts: flags(map[string]bool{"interval": true, "jitter": true, "listen": true, "basic-auth-file": true, "no-watch": true},
				Options{Interval: 2 * time.Hour, Jitter: time.Minute, Listen: "[::1]:0", BasicAuthFile: "auth", NoWatch: false}),
			file: file,
			want: settings{timing: serve.Timing{Interval: 2 * time.Hour, Jitter: time.Minute}, listen: "[::1]:0", authFile: "auth", watch: true},
		},
		{
			name: "--cron over the file's interval, the file's jitter kept",
			opts: flags(map[string]bool{"cron": true}, Options{Cron: "@hourly"}), file: fileInterval,
			want: settings{timing: serve.Timing{Cron: "@hourly", Jitter: 30 * time.Minute}, listen: defaultListen, watch: true},
		},
		{
			name: "--interval below the file's jitter",
			opts: flags(map[string]bool{"interval": true}, Options{Interval: 10 * time.Minute}), file: fileInterval,
			wantErr: "jitter 30m0s ([serve] jitter) must be less than the interval 10m0s (--interval)",
		},
		{
			name: "--jitter over the file's interval",
			opts: flags(map[string]bool{"jitter": true}, Options{Jitter: time.Hour}), file: fileInterval,
			wantErr: "jitter 1h0m0s (--jitter) must be less than the interval 1h0m0s ([serve] interval)",
		},
		{
			name: "bad --cron",
			opts: flags(map[string]bool{"cron": true}, Options{Cron: "61 * * * *"}), file: defaults,
			wantErr: `--cron "61 * * * *": end of range (61) above maximum (59)`,
		},
		{
			name: "--interval 0",
			opts: flags(map[string]bool{"interval": true}, Options{}), file: defaults,
			wantErr: "--interval 0s: must be positive",
		},
		{
			name: "negative --jitter",
			opts: flags(map[string]bool{"jitter": true}, Options{Jitter: -time.Second}), file: defaults,
			wantErr: "--jitter -1s: must not be negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.opts, tt.file)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				var ee *cmdutil.ExitError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, cmdutil.ExitBadInput, ee.Code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// defaultListen is the default listen address, named for the table above.
const defaultListen = registry.DefaultServeListen
