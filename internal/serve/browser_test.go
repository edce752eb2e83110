package serve

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/state"
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

// browserTimeout bounds each browser test as a whole: when it passes, Chromium is stopped and
// every action still waiting fails.
const browserTimeout = 90 * time.Second

// startChromium starts a headless Chromium, stopped when the test ends or browserTimeout has
// passed, and returns the context to drive its tab with.
func startChromium(t *testing.T, chromium string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
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

	bctx := startChromium(t, chromium)

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

// TestPageInBrowserRecordsAndSigners: with [trust] and [serve] record_dir, the page shows each
// module's signer and signing time, and a module refused at start as a downgrade (signed before
// the newest signature accepted for it) with its reason. Clicking a recent gather's records link
// downloads a tar holding exactly the gather's record files; the gather page's links to each
// record file return its bytes.
func TestPageInBrowserRecordsAndSigners(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("chromium is not installed: `make deps` installs it (apt-get install chromium)")
	}
	f := newFixture(t, false, "")
	mods := filepath.Join(filepath.Dir(f.reg), "modules")
	pub, key := newVendorKey(t)
	t1, t2 := until.Add(-30*24*time.Hour), until.Add(-24*time.Hour)
	install := func(name string, module []byte, at time.Time) {
		t.Helper()
		sig, err := signature.Sign(key, module, nil, name, at)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(mods, name), module, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(mods, name)+signature.Suffix, sig, 0o644))
	}
	flaky, err := os.ReadFile(filepath.Join(mods, "flaky.wasm"))
	require.NoError(t, err)
	install("flaky.wasm", flaky, t2)
	// legacy.wasm: another release of the same guest (a custom section appended), signed at t1,
	// while the record says a release signed at t2 ran before: a downgrade.
	install("legacy.wasm", append(append([]byte{}, flaky...), 0x00, 0x03, 0x01, 'x', 0x00), t1)
	require.NoError(t, state.NewFileStore(f.stateDir).UpdateSigningTimes(func(rec map[string]time.Time) error {
		rec["legacy.wasm"] = t2
		return nil
	}))
	text, err := os.ReadFile(f.reg)
	require.NoError(t, err)
	extra := "\n[serve]\nrecord_dir = \"records\"\n\n[trust]\n[[trust.keys]]\nname = \"Acme Inc.\"\npattern = \"*\"\nkey = \"" + pub.String() + "\"\n" +
		"\n[[collector]]\nkey = \"legacy\"\nversion = \"1.0\"\nmodule = \"legacy.wasm\"\nfunction = \"info\"\n"
	require.NoError(t, os.WriteFile(f.reg, append(text, extra...), 0o644))

	a := f.agent(t, until)
	rec, err := a.GatherOnce(context.Background())
	require.NoError(t, err)
	require.NotNil(t, rec.Result, rec.Err)
	status := map[string]string{}
	for _, c := range rec.Result.Collectors {
		status[c.Key] = c.Status
	}
	assert.Equal(t, map[string]string{"config": "ok", "events": "ok", "legacy": "failed"}, status)
	gr := rec.Records
	require.NotNil(t, gr)
	require.Empty(t, gr.Err)
	want, err := recordFiles(gr.Dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(want), 2, "a record per invocation, and the summary")
	srv := httptest.NewServer(a.Handler(nil))
	defer srv.Close()

	bctx := startChromium(t, chromium)
	text1 := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#modules")),
	))
	signer := "Acme Inc. (key " + signature.KeyID(pub.ID()) + ")"
	row := text1(`tr[id="module-flaky.wasm"]`)
	assert.Contains(t, row, signer)
	assert.Contains(t, row, t2.UTC().Format(time.RFC3339), "the signing time")
	assert.Contains(t, row, "running")
	row = text1(`tr[id="module-legacy.wasm"]`)
	assert.Contains(t, row, signer)
	assert.Contains(t, row, t1.UTC().Format(time.RFC3339))
	assert.Contains(t, row, "refused as a downgrade: it was signed by "+signer+" at "+t1.UTC().Format(time.RFC3339)+", before "+t2.UTC().Format(time.RFC3339)+
		", the signing time of the newest signature accepted for legacy.wasm: refused as a possible downgrade to an older release; to run this version deliberately: wasmcollector trust accept legacy.wasm")

	// The records link of gather #1 in the recent gathers: a real download, into dir.
	dir := t.TempDir()
	progress := chromedp.Events(bctx, browser.DownloadProgress)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			enabled := true
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &enabled,
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`#gathers a.records[href="/gathers/1/records.tar"]`)),
	))
	var downloaded string
	for ev, err := range progress { // ends when the download ends, or with the test's bound
		require.NoError(t, err)
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State, "the download was canceled")
		if ev.State == browser.DownloadProgressStateCompleted {
			downloaded = filepath.Join(dir, ev.GUID)
			break
		}
	}
	tarData, err := os.ReadFile(downloaded)
	require.NoError(t, err)
	members := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(tarData))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		members[h.Name] = b
	}
	require.Len(t, members, len(want))
	for _, w := range want {
		b, err := os.ReadFile(filepath.Join(gr.Dir, w.Name))
		require.NoError(t, err)
		assert.Equal(t, b, members[gr.Name+"/"+w.Name], "member %s/%s", gr.Name, w.Name)
	}

	// The gather page lists each record file, and its link returns the file.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#gathers a[href="/gathers/1"]`)),
		chromedp.WaitVisible(chromedp.CSS("table#records")),
	))
	links, err := chromedp.Run(bctx, chromedp.AttributesAll(chromedp.CSSAll("table#records a.record")))
	require.NoError(t, err)
	require.Len(t, links, len(want))
	for i, l := range links {
		assert.Equal(t, "/gathers/1/records/"+want[i].Name, l["href"])
		code, body := get(t, srv.Client(), srv.URL+l["href"])
		require.Equal(t, 200, code, l["href"])
		b, err := os.ReadFile(filepath.Join(gr.Dir, want[i].Name))
		require.NoError(t, err)
		assert.Equal(t, string(b), body, l["href"])
	}
}
