package wasmcollector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmcollector/wasmcollector"
	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// exampleCollectors are the collectors of the examples and tests: the config and counts example
// collectors.
const exampleCollectors = `
[[collector]]
key = "config"
version = "1.0"
config = true
module = "config.wasm"

[[collector]]
key = "counts"
version = "1.0"
module = "counts.wasm"
params = { scale = 2 }
`

// exampleRegistry is the collectors.toml the examples load: the config and counts example
// collectors, built from source by TestMain.
var exampleRegistry string

func TestMain(m *testing.M) {
	tb, cleanup := testguests.MainTB()
	exampleRegistry = testguests.Registry(tb, map[string]string{
		"config.wasm": testguests.Go(tb, "examples/config"),
		"counts.wasm": testguests.Go(tb, "examples/counts"),
	}, "[gather]\nstate_dir = \"state\"\nout_dir = \"out\"\n"+exampleCollectors)
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Embed the host: load a registry shipped inside the product (here an fs.FS, as go:embed gives),
// gather its collectors into tarballs, and run one collector on its own to see what it sends.
func Example() {
	ctx := context.Background()
	// The product's files: collectors.toml and modules/ (embed.FS in a product).
	product := os.DirFS(filepath.Dir(exampleRegistry))
	// Where the host keeps its copy of the modules, the bookkeeping (state_dir) and the tarballs
	// (out_dir), which the TOML gives relative to it.
	dir, err := os.MkdirTemp("", "wasmcollector-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	host, err := wasmcollector.LoadFS(product, "collectors.toml", dir, &wasmcollector.Options{
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err) // every problem of the TOML, one per line: file:line: field: message
		return
	}
	defer host.Close()

	// A dry run: tarballs in [gather] out_dir, nothing shipped or recorded.
	res, err := host.Gather(ctx, wasmcollector.GatherOptions{Type: wasmcollector.DryRun})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range res.Collectors {
		fmt.Println(c.Key, c.Status)
	}
	fmt.Println(len(res.Tarballs), "tarball with", res.Tarballs[0].Files)
	if _, err := os.Stat(res.Tarballs[0].Path); err == nil && filepath.Dir(res.Tarballs[0].Path) == filepath.Join(dir, "out") {
		fmt.Println("written to out_dir under", "dir")
	}

	// One collector, one slice, its document into a buffer.
	var out bytes.Buffer
	run, err := host.Run(ctx, wasmcollector.RunOptions{Key: "counts", Output: &out})
	if err != nil {
		fmt.Println(err)
		return
	}
	var counts struct {
		Organization int    `json:"organization"`
		Until        string `json:"until"`
	}
	if err := json.Unmarshal(out.Bytes(), &counts); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Collector.Key, run.Since.Format(time.RFC3339), counts.Until, counts.Organization > 0)
	// Output:
	// config ok
	// counts ok
	// 1 tarball with [./counts.json ./config.json ./data_collection_status.csv ./manifest.json]
	// written to out_dir under dir
	// counts 2026-11-25T12:00:00Z 2026-11-26T12:00:00Z true
}
