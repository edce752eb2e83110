package replay_test

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/replay"
)

func TestCompareCSVByKey(t *testing.T) {
	before := "id,name,status\n1,a,ok\n2,b,ok\n3,\"c,d\",failed\n"
	after := "id,name,status\n1,a,ok\n2,b,OK\n4,e,ok\n"
	d := replay.Compare(hostfuncs.FormatCSV, []byte(before), []byte(after), 10)
	assert.Equal(t, "column id", d.MatchedBy)
	assert.Equal(t, 1, d.Added)
	assert.Equal(t, 1, d.Removed)
	assert.Equal(t, 1, d.Changed)
	assert.Equal(t, []replay.Change{
		{Kind: "changed", Key: "2", Columns: []string{"status"}, Before: "2,b,ok", After: "2,b,OK"},
		{Kind: "removed", Key: "3", Before: `3,"c,d",failed`},
		{Kind: "added", Key: "4", After: "4,e,ok"},
	}, d.Changes)
	assert.Equal(t, "1 rows added, 1 rows removed, 1 rows changed (columns status)", d.Summary())
	assert.Nil(t, d.HeaderBefore)
}

func TestCompareCSVHeaderAndWholeRows(t *testing.T) {
	// No unique first column: rows compare whole, as a multiset.
	before := "k,v\nx,1\nx,1\nx,2\n"
	after := "k,value\nx,1\nx,3\nx,2\n"
	d := replay.Compare(hostfuncs.FormatCSV, []byte(before), []byte(after), 10)
	assert.Equal(t, "whole row", d.MatchedBy)
	assert.Equal(t, []string{"k", "v"}, d.HeaderBefore)
	assert.Equal(t, []string{"k", "value"}, d.HeaderAfter)
	assert.Equal(t, []replay.Change{{Kind: "removed", Key: "row 2", Before: "x,1"}, {Kind: "added", Key: "row 2", After: "x,3"}}, d.Changes)

	// The cap on listed changes keeps counts whole.
	d = replay.Compare(hostfuncs.FormatCSV, []byte("id\n1\n2\n3\n"), []byte("id\n"), 2)
	assert.Equal(t, 3, d.Removed)
	assert.Len(t, d.Changes, 2)
	assert.True(t, d.Truncated)
}

func TestCompareJSON(t *testing.T) {
	before := `{"a": 1, "list": [{"id": 1, "n": "x"}, {"id": 2, "n": "y"}], "arr": [1, 2], "gone": true, "odd.key": 1}`
	after := `{"a": 2, "list": [{"id": 2, "n": "y"}, {"id": 1, "n": "z"}], "arr": [1, 2, 3], "new": null, "odd.key": 2}`
	d := replay.Compare(hostfuncs.FormatJSON, []byte(before), []byte(after), 10)
	assert.Equal(t, []replay.Change{
		{Kind: "changed", Key: "$.a", Before: "1", After: "2"},
		{Kind: "added", Key: "$.arr[2]", After: "3"},
		{Kind: "removed", Key: "$.gone", Before: "true"},
		{Kind: "changed", Key: "$.list[id=1].n", Before: `"x"`, After: `"z"`},
		{Kind: "added", Key: "$.new", After: "null"},
		{Kind: "changed", Key: `$["odd.key"]`, Before: "1", After: "2"},
	}, d.Changes)
	assert.Equal(t, "2 keys added, 1 keys removed, 3 keys changed", d.Summary())

	d = replay.Compare(hostfuncs.FormatJSON, []byte(`{"a":1}`), []byte(`{"a":1} {"b":2}`), 10)
	assert.Contains(t, d.Note, "the replayed output is not JSON: more than one JSON value")
}

func TestCompareStreamCSV(t *testing.T) {
	before := "id,name,status\n1,a,ok\n2,b,ok\n3,\"c,d\",failed\n"
	after := "id,name,state\n1,a,ok\n2,b,OK\n4,e,ok\n5,f,ok\n"
	d, err := replay.CompareStream(hostfuncs.FormatCSV, strings.NewReader(before), strings.NewReader(after), 10)
	require.NoError(t, err)
	assert.Equal(t, "row position", d.MatchedBy)
	assert.Equal(t, []string{"id", "name", "status"}, d.HeaderBefore)
	assert.Equal(t, []string{"id", "name", "state"}, d.HeaderAfter)
	assert.Equal(t, []replay.Change{
		{Kind: "changed", Key: "2", Columns: []string{"state"}, Before: "2,b,ok", After: "2,b,OK"},
		{Kind: "changed", Key: "row 3", Columns: []string{"id", "name", "state"}, Before: `3,"c,d",failed`, After: "4,e,ok"},
		{Kind: "added", Key: "row 4", After: "5,f,ok"},
	}, d.Changes)
	assert.Equal(t, 2, d.Changed)
	assert.Equal(t, 1, d.Added)
	assert.Contains(t, d.Note, "line by line")

	// The cap on listed changes keeps counts whole; the other side's end counts as removed.
	d, err = replay.CompareStream(hostfuncs.FormatCSV, strings.NewReader("id\n1\n2\n3\n"), strings.NewReader("id\n"), 2)
	require.NoError(t, err)
	assert.Equal(t, 3, d.Removed)
	assert.Len(t, d.Changes, 2)
	assert.True(t, d.Truncated)

	// Identical streams, no trailing newline on one side: the same lines.
	d, err = replay.CompareStream(hostfuncs.FormatCSV, strings.NewReader("id\n1\n"), strings.NewReader("id\n1"), 2)
	require.NoError(t, err)
	assert.Zero(t, d.Added+d.Removed+d.Changed)
}

func TestCompareStreamLongLines(t *testing.T) {
	// Lines far longer than what is kept of them: compared whole (by hash), shown cut.
	long := strings.Repeat("x", 200<<10)
	before := `{"a":"` + long + `1"}` + "\n" + `{"b":1}` + "\n"
	after := `{"a":"` + long + `2"}` + "\n" + `{"b":1}` + "\n"
	d, err := replay.CompareStream(hostfuncs.FormatJSON, strings.NewReader(before), strings.NewReader(after), 10)
	require.NoError(t, err)
	require.Equal(t, 1, d.Changed)
	c := d.Changes[0]
	assert.Equal(t, "line 1", c.Key)
	assert.True(t, strings.HasSuffix(c.Before, "…"))
	assert.Less(t, len(c.Before), 300)
	d, err = replay.CompareStream(hostfuncs.FormatJSON, strings.NewReader(before), strings.NewReader(before), 10)
	require.NoError(t, err)
	assert.Zero(t, d.Added+d.Removed+d.Changed)

	// A reader that fails is an error naming the side.
	_, err = replay.CompareStream(hostfuncs.FormatCSV, iotest.ErrReader(errors.New("disk gone")), strings.NewReader("a\n"), 1)
	assert.ErrorContains(t, err, "read the recorded output: disk gone")
}
