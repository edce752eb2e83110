package runtime

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/wasmcollector/wasmcollector/internal/testguests"
)

// memoryAfterInstantiation returns the first 2 KiB of a fresh instance's memory.
func memoryAfterInstantiation(t *testing.T, wasm []byte) []byte {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	m, err := r.Instantiate(ctx, wasm)
	require.NoError(t, err)
	b, ok := m.Memory().Read(0, 2048)
	require.True(t, ok)
	return append([]byte(nil), b...)
}

// TestMergeData: merged segments give the same memory as the originals, in fewer segments; the
// shapes merging cannot keep exact are left alone.
func TestMergeData(t *testing.T) {
	orig, err := os.ReadFile(testguests.WAT(t, "data_segments"))
	require.NoError(t, err)
	merged, err := mergeData(orig)
	require.NoError(t, err)
	require.NotEqual(t, orig, merged, "the segments were merged")
	assert.Equal(t, memoryAfterInstantiation(t, orig), memoryAfterInstantiation(t, merged))
	assert.Equal(t, 2, dataSegments(t, merged), "0..22 and 100..103 join; 1500 stays apart")

	goGuest, err := os.ReadFile(testguests.Go(t, "examples/job_events"))
	require.NoError(t, err)
	before := dataSegments(t, goGuest)
	mergedGo, err := mergeData(goGuest)
	require.NoError(t, err)
	after := dataSegments(t, mergedGo)
	t.Logf("Go guest: %d data segments merged into %d", before, after)
	assert.Less(t, after*10, before)

	// Overlapping segments: the order matters, so nothing changes.
	overlap := append([]byte(nil), orig...)
	secs, err := sections(overlap)
	require.NoError(t, err)
	for _, s := range secs {
		if s.id == sectionData {
			// Move the segment at 19 onto 16 (same LEB length): now "abc" and "def" overlap.
			body := overlap[s.start:s.end]
			for i := 0; i+2 < len(body); i++ {
				if body[i] == 0x41 && body[i+1] == 19 && body[i+2] == 0x0b {
					body[i+1] = 17
				}
			}
		}
	}
	same, err := mergeData(overlap)
	require.NoError(t, err)
	assert.Equal(t, overlap, same)
}

func dataSegments(t *testing.T, wasm []byte) int {
	t.Helper()
	secs, err := sections(wasm)
	require.NoError(t, err)
	for _, s := range secs {
		if s.id == sectionData {
			r := &wasmReader{b: wasm[s.start:s.end]}
			return int(r.u32())
		}
	}
	return 0
}
