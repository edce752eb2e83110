package serve

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds a Chromium to drive, "" when none is installed (`make deps` installs
// Debian's chromium).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPageInBrowser renders the page in headless Chromium after a real gather shipped to a
// real ingress: the index lists the gather and draws the chart, its link leads to the gather,
// the tarball's link to its preview, which shows the CSV rows that were sent. A screenshot of
// each page is saved in the test's temp dir.
func TestPageInBrowser(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("chromium is not installed: `make deps` installs it (apt-get install chromium)")
	}
	f := newFixture(t, true, "")
	a := f.agent(t, until)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", rec.Outcome, rec.Err)
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	shots := t.TempDir()
	if d := os.Getenv("WASMCOLLECTOR_SCREENSHOT_DIR"); d != "" { // to look at them afterwards
		shots = d
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#gathers")),
	))
	title, err := chromedp.Run(bctx, chromedp.Title())
	require.NoError(t, err)
	assert.Equal(t, "status · wasmcollector", title)
	gathers := text("#gathers")
	assert.Contains(t, gathers, "#1")
	assert.Contains(t, gathers, "events: ok")
	polylines, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll("svg polyline")))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(polylines), 4, "rows and bytes, a line per collector")
	shot("index.png")

	var csvTarball string
	for _, tb := range rec.Result.Tarballs {
		if strings.Contains(strings.Join(tb.Files, " "), "events.csv") {
			csvTarball = tb.Name
			break
		}
	}
	require.NotEmpty(t, csvTarball)

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`a[href="/gathers/1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tarballs")),
	))
	shot("gather.png")
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.Search(`//a[@class="tarball" and text()="`+csvTarball+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.preview")),
	))
	location, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	assert.Contains(t, location, "/gathers/1/tarballs/")
	assert.Equal(t, csvTarball, text("h1"))
	preview := text("table.preview")
	assert.Contains(t, preview, "full_sync")
	assert.Regexp(t, `2026-11-25T0[0-2]:01:00Z`, preview, "the first row sent")
	shot("tarball.png")
	for _, name := range []string{"index.png", "gather.png", "tarball.png"} {
		st, err := os.Stat(filepath.Join(shots, name))
		require.NoError(t, err)
		assert.Greater(t, st.Size(), int64(1000), name)
	}
	t.Logf("screenshots in %s", shots)
}
