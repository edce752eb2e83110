package replaycmd

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wasmcollector/wasmcollector/replay"
)

// TestPrintReportSys: the text report says when a guest read its clock or randomness past the
// record (and where the recording stopped), and when a record had none to serve (version 1);
// a replay served from the record says nothing about them.
func TestPrintReportSys(t *testing.T) {
	served := &replay.Outcome{File: "a.jsonl.gz", Key: "a", Identical: true, SameOutcome: true,
		Sys: replay.SysOutcome{Recorded: true, Served: replay.SysCounts{Wall: 2, Mono: 10, RandBytes: 48}}}
	beyond := &replay.Outcome{File: "b.jsonl.gz", Key: "b", Identical: true, SameOutcome: true,
		Sys: replay.SysOutcome{Recorded: true, BeyondRecord: true, Beyond: replay.SysCounts{Wall: 3, Mono: 4, RandBytes: 65536},
			Stopped: "the guest's clock and random readings reached the record's bound of 16384 bytes"}}
	v1 := &replay.Outcome{File: "c.jsonl.gz", Key: "c", Identical: true, SameOutcome: true}
	var buf bytes.Buffer
	printReport(&buf, &Report{Records: []*replay.Outcome{served, beyond, v1}, Identical: 3}, 20)
	out := buf.String()
	assert.Contains(t, out, "b.jsonl.gz: b (no slice): identical")
	assert.Contains(t, out, "  clock and randomness: read beyond the record: 3 wall-clock and 4 monotonic readings, 65536 random bytes")
	assert.Contains(t, out, "    the recording kept no more: the guest's clock and random readings reached the record's bound of 16384 bytes")
	assert.Contains(t, out, "  clock and randomness: not in this record (format version 1): the guest read this host's")
	assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("clock and randomness")), "nothing for the replay served from the record:\n%s", out)
}
