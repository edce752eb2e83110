package packaging

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcollector/wasmcollector/internal/hostile"
)

// fuzzLimits are small, so that an input that expands (a gzip bomb, many members) costs
// little per run: the fuzzer runs each input thousands of times a second.
var fuzzLimits = ReadLimits{MaxMembers: 64, MaxNameBytes: 256, MaxPAXBytes: 1024, MaxMetaBytes: 64 << 10, MaxExpandedBytes: 1 << 20}.withDefaults()

// FuzzReadTarball reads any bytes as a tarball, as `inspect` and the ingress do: never a panic;
// a tarball read is within the limits, and a refusal for a limit is a *LimitError naming one of
// them.
func FuzzReadTarball(f *testing.F) {
	upstream, err := os.ReadFile(filepath.Join("testdata", "upstream.tar.gz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(upstream)
	f.Add(hostile.Tarball(
		hostile.File{Name: "./a.csv", Body: "id\n1\n"},
		hostile.File{Name: "./data_collection_status.csv", Body: "collection_start_timestamp,since,until,file_name,status,elapsed\r\nx,,y,a.csv,ok,1\r\n"},
		hostile.File{Name: "./manifest.json", Body: `{"a.csv": "1.0", "data_collection_status.csv": "1.0"}`}))
	f.Add(hostile.Tarball(hostile.File{Name: "./\x1b[31m\n.csv", Body: "x"}, hostile.File{Name: "./manifest.json", Body: `{"a": 1}`}))
	f.Add(hostile.HugeNames(3, 300))
	f.Add(hostile.Tarball(hostile.File{Name: "big", Body: strings.Repeat("z", 2<<20)}))
	f.Add(upstream[:len(upstream)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := readTarball(bytes.NewReader(b), fuzzLimits)
		if lim, ok := errors.AsType[*LimitError](err); ok {
			switch lim.Limit {
			case "MaxMembers", "MaxNameBytes", "MaxPAXBytes", "MaxMetaBytes", "MaxExpandedBytes":
			default:
				t.Fatalf("limit error names no limit: %v", lim)
			}
			return
		}
		if err != nil {
			return
		}
		if len(c.Members) > fuzzLimits.MaxMembers {
			t.Fatalf("%d members read, over the limit", len(c.Members))
		}
		for _, m := range c.Members {
			if len(m.Name) > fuzzLimits.MaxNameBytes {
				t.Fatalf("member name of %d bytes read, over the limit", len(m.Name))
			}
		}
	})
}
