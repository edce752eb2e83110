package packaging_test

import (
	"fmt"
	"os"
	"time"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// Example stages one collector's CSV output through a Splitter, packs it with a config document
// and reads the tarball back.
func Example() {
	stage, _ := os.MkdirTemp("", "stage")
	defer os.RemoveAll(stage)
	out, _ := os.MkdirTemp("", "out")
	defer os.RemoveAll(out)
	until := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)

	config := stage + "/config.json"
	_ = os.WriteFile(config, []byte(`{"install_uuid": "0000"}`), 0o644)

	// The host's CSV writer: the header first, then one complete row per Write.
	s := packaging.NewSplitter(stage, "events", 0)
	fmt.Fprint(s, "id,name\n")
	fmt.Fprint(s, "1,\"a, b\"\n")
	parts, err := s.Close()
	if err != nil {
		panic(err)
	}

	p := packaging.NewPacker(packaging.Options{
		Dir: out, Until: until, Config: &packaging.Config{Version: "1.0", Path: config},
	})
	for _, part := range parts {
		if _, err := p.Add(packaging.Collection{
			Key: "events", Version: "1.2", Format: packaging.FormatCSV, Path: part.Path, Size: part.Size,
			Since: until.Add(-24 * time.Hour), Until: until, Started: until, Finished: until.Add(2 * time.Second),
		}); err != nil {
			panic(err)
		}
	}
	tarballs, err := p.Finish()
	if err != nil {
		panic(err)
	}

	c, err := packaging.ReadTarball(tarballs[0].Path)
	if err != nil {
		panic(err)
	}
	fmt.Println(tarballs[0].Name)
	for _, m := range c.Members {
		fmt.Println(m.Name, m.Size)
	}
	fmt.Println(c.Manifest)
	fmt.Println(c.Status)
	// Output:
	// analytics-2024-06-30-000000+0000-0.tar.gz
	// ./events.csv 17
	// ./config.json 24
	// ./data_collection_status.csv 160
	// ./manifest.json 80
	// [{events.csv 1.2} {config.json 1.0} {data_collection_status.csv 1.0}]
	// [{2024-06-30 00:00:00+00:00 2024-06-29 00:00:00+00:00 2024-06-30 00:00:00+00:00 events.csv ok 2}]
}
