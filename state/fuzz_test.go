package state

import (
	"reflect"
	"testing"
)

// FuzzDecode: state.json is read back after crashes and by hand edits; whatever it holds, decode
// returns an error or a State that encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version": 1, "entries": {"a": "2026-11-26T16:00:00Z"}}`))
	f.Add([]byte(`{"version": 2, "last_gather": "2026-11-26T16:16:54.53162Z", "entries": {}, "pending": [{"name": "a.tar.gz", "path": "/o/pending/a.tar.gz", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 3, "shipped": true, "slices": [{"key": "k", "since": "2026-11-26T12:00:00Z", "until": "2026-11-26T16:00:00Z", "part": 1, "parts": 1}]}]}`))
	f.Add([]byte(`{"version": 2, "pending": [{"name": "../x", "path": "rel", "sha256": "", "size": -1, "slices": null}]}`))
	f.Add([]byte(`{"version": 2, "entries": {"k": "0000-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decode(data)
		if err != nil {
			return
		}
		again, err := encode(st)
		if err != nil {
			return // a time RFC 3339 cannot write (year outside 0–9999 after UTC conversion)
		}
		back, err := decode(again)
		if err != nil {
			t.Fatalf("encoded state does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalise(st), normalise(back)) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", st, back)
		}
	})
}

// normalise makes empty slices nil, so that "slices": [] and a missing list compare equal.
func normalise(s State) State {
	for i := range s.Pending {
		if len(s.Pending[i].Slices) == 0 {
			s.Pending[i].Slices = nil
		}
	}
	return s
}
