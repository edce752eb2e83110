package registry

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSample loads the embedded sample as shipped, and again with every commented-out option
// turned on, so that each option it documents is one Load accepts.
func TestSample(t *testing.T) {
	uncomment := regexp.MustCompile(`(?m)^(\s*)# `)
	tests := []struct {
		name  string
		text  []byte
		check func(t *testing.T, reg *Registry)
	}{
		{
			name: "as shipped",
			text: Sample(),
			check: func(t *testing.T, reg *Registry) {
				require.Len(t, reg.Collectors, 2)
				require.Empty(t, reg.Modules[0].SHA256)
				require.Equal(t, "analytics", reg.Gather.TarballBase)
			},
		},
		{
			name: "every option set",
			text: uncomment.ReplaceAll(Sample(), []byte("$1")),
			check: func(t *testing.T, reg *Registry) {
				// The sample pins the sha256 of an empty file, which the test module is.
				require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", reg.Modules[0].SHA256)
				require.Equal(t, uint64(128<<20), reg.Modules[0].MemoryLimit)
				ev := reg.Collector("events_table")[0]
				require.Equal(t, 30, ev.FullSyncIntervalDays)
				require.Equal(t, int64(2<<30), ev.Limits.MaxOutputBytes)
				require.Equal(t, []any{"events", "hosts"}, ev.Params["tables"])
				// The commented-out [gather], [license] and [shipping] values are the defaults.
				require.Equal(t, GatherSettings{
					MaxDataSize: 200 << 20,
					MaxWindow:   28 * 24 * time.Hour,
					TarballBase: "analytics",
					OutDir:      filepath.Join(filepath.Dir(reg.File), "out"),
				}, reg.Gather)
				require.Equal(t, LicenseSettings{}, reg.License)
				// [trust] on, not required: the unsigned example module runs, with a warning.
				require.True(t, reg.Trust.Enabled)
				require.Len(t, reg.Trust.Keys, 1)
				require.Len(t, reg.Warnings, 1)
				require.Equal(t, SignatureUnsigned, reg.Modules[0].Signature.Status)
				shipping := unsetShipping()
				shipping.Headers["X-Product"] = "acme 4.6" // the example header
				require.Equal(t, shipping, reg.Shipping)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"collectors.toml":      string(tt.text),
				"modules/example.wasm": "",
			})
			reg, err := Load(filepath.Join(dir, "collectors.toml"))
			require.NoError(t, err)
			require.NotNil(t, reg.ConfigCollector())
			tt.check(t, reg)
		})
	}
}

// TestSampleIsACopy: callers may change what Sample returns without changing the next result.
func TestSampleIsACopy(t *testing.T) {
	s := Sample()
	s[0] = 'X'
	require.NotEqual(t, s[0], Sample()[0])
	embedded, err := os.ReadFile("sample.toml")
	require.NoError(t, err)
	require.Equal(t, embedded, Sample())
}
