package replay_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/replay"
)

// TestRecordReplayLogLines: a record holds the guest's log lines (the log host function's, with
// their level, and its stderr); a replay says whether the replayed guest logged the same, without
// that deciding identical; records of versions 1 and 2 have none and are not compared.
func TestRecordReplayLogLines(t *testing.T) {
	for _, iso := range []string{"process", "in-process"} {
		t.Run(iso, func(t *testing.T) {
			h := probeHost(t, valsDB(t), `isolation = "`+iso+`"`)
			file, _ := record(t, h, "rows", replay.Options{Output: true}, nil)
			rec, err := replay.ReadFile(file)
			require.NoError(t, err)
			assert.Equal(t, 3, rec.Header.Version)
			assert.Equal(t, []replay.LogLine{
				{Stream: "log", Level: "INFO", Msg: "rows: copied 4 rows"},
				{Stream: "stderr", Msg: "rows done: 4\n"},
			}, rec.Logs)

			out, err := replay.Replay(context.Background(), file, replayOpts(t))
			require.NoError(t, err)
			assert.True(t, out.Identical, "%+v", out)
			assert.Equal(t, replay.LogsOutcome{Recorded: true, Match: true, RecordedLines: 2, Lines: 2}, out.Logs)

			// A recorded log line that the replay does not write again: reported, not a difference.
			edited := rewrite(t, file, func(lines []string) []string {
				for i, l := range lines {
					if strings.HasPrefix(l, `{"k":"log"`) && strings.Contains(l, "copied 4") {
						lines[i] = strings.Replace(l, "copied 4", "copied 5", 1)
					}
				}
				return lines
			})
			out, err = replay.Replay(context.Background(), edited, replayOpts(t))
			require.NoError(t, err)
			assert.True(t, out.Identical, "%+v", out)
			assert.Equal(t, replay.LogsOutcome{Recorded: true, Match: false, RecordedLines: 2, Lines: 2}, out.Logs)
		})
	}
}

// TestLogLinesVersions: a version 2 record (no log lines) is read and replayed without comparing
// logs; log lines in a version 2 record, or of an unknown stream, are corrupt.
func TestLogLinesVersions(t *testing.T) {
	h := probeHost(t, valsDB(t))
	file, _ := record(t, h, "rows", replay.Options{Output: true}, nil)
	v2 := rewrite(t, file, func(lines []string) []string {
		var keep []string
		for _, l := range lines {
			if !strings.HasPrefix(l, `{"k":"log"`) {
				keep = append(keep, l)
			}
		}
		require.Len(t, keep, len(lines)-2)
		keep[0] = strings.Replace(keep[0], `"version":3,`, `"version":2,`, 1)
		return fixEnd(keep)
	})
	rec, err := replay.ReadFile(v2)
	require.NoError(t, err)
	assert.Equal(t, 2, rec.Header.Version)
	assert.Empty(t, rec.Logs)
	out, err := replay.Replay(context.Background(), v2, replayOpts(t))
	require.NoError(t, err)
	assert.True(t, out.Identical, "%+v", out)
	assert.False(t, out.Logs.Recorded)

	for name, c := range map[string]struct {
		edit func([]string) []string
		want string
	}{
		"log lines in version 2": {func(l []string) []string {
			l[0] = strings.Replace(l[0], `"version":3,`, `"version":2,`, 1)
			return l
		}, "log lines in a version 2 record"},
		"unknown stream": {func(l []string) []string {
			return fixEnd(append(l[:1], append([]string{`{"k":"log","stream":"tty","msg":"x"}`}, l[1:]...)...))
		}, `unknown stream "tty"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := replay.ReadFile(rewrite(t, file, c.edit))
			require.ErrorIs(t, err, replay.ErrCorrupt)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
