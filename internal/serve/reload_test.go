package serve

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector"
)

// TestHotReload watches a running agent's configuration: a new module that does not compile is
// refused (not added) and the previous collectors keep gathering; a change that passes is swapped in, and a
// collector removed from the configuration stops being gathered.
func TestHotReload(t *testing.T) {
	f := newFixture(t, false, "")
	var nowUnix atomic.Int64 // the clock, moved by the test while the watcher reads it
	nowUnix.Store(until.Unix())
	clock := func() time.Time { return time.Unix(nowUnix.Load(), 0).UTC() }
	load := func() (*wasmcollector.Host, error) {
		return wasmcollector.Load(f.reg, &wasmcollector.Options{Logger: quiet, Now: clock})
	}
	host, err := load()
	require.NoError(t, err)
	a, err := New(Config{Host: host, Load: load, Logger: quiet, Now: clock})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan error, 1)
	go func() { watching <- a.Watch(ctx, f.reg) }()
	time.Sleep(200 * time.Millisecond) // let the watcher add its directories

	waitReloads := func(result string, n float64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for counterValue(t, a.metrics.reloads.WithLabelValues(result)) < n {
			require.True(t, time.Now().Before(deadline), "no %s reload", result)
			time.Sleep(20 * time.Millisecond)
		}
	}
	keys := func(rec *Record) []string {
		var ks []string
		for _, c := range rec.Result.Collectors {
			ks = append(ks, c.Key)
		}
		return ks
	}

	original, err := os.ReadFile(f.reg)
	require.NoError(t, err)
	modDir := filepath.Join(filepath.Dir(f.reg), "modules")
	require.NoError(t, os.WriteFile(filepath.Join(modDir, "bad.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644))
	require.NoError(t, os.WriteFile(f.reg, append(original, []byte(`
[[collector]]
key = "bad"
version = "1.0"
format = "csv"
module = "bad.wasm"
function = "events"
`)...), 0o644))
	waitReloads("partial", 1)
	assert.Equal(t, 0.0, counterValue(t, a.metrics.reloads.WithLabelValues("ok")))
	assert.Equal(t, 1.0, counterValue(t, a.reloadMetrics.moduleFailures.WithLabelValues("bad.wasm")))
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()
	_, page := get(t, srv.Client(), srv.URL+"/")
	assert.Contains(t, page, "the modules below were refused")
	assert.Contains(t, page, "<td>bad.wasm</td>")
	assert.Contains(t, page, "nothing: a new module is added only once it passes")
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ok", rec.Outcome, rec.Err)
	assert.Equal(t, []string{"config", "events"}, keys(rec), "the module refused is not gathered, the others are")

	// Drop the bad module and the events collector: it passes and is swapped in.
	require.NoError(t, os.Remove(filepath.Join(modDir, "bad.wasm")))
	head, _, ok := strings.Cut(string(original), "[[collector]]\nkey = \"events\"")
	require.True(t, ok)
	require.NoError(t, os.WriteFile(f.reg, []byte(head), 0o644))
	waitReloads("ok", 1)
	nowUnix.Store(until.Add(time.Hour).Unix())
	rec, err = a.GatherOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"config"}, keys(rec), "a removed collector stops being gathered")

	cancel()
	select {
	case err := <-watching:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
