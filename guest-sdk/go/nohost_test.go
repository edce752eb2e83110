//go:build !wasip1

package collector

import (
	"errors"
	"testing"
)

// Outside wasip1 the stand-ins answer every call as "no host".
func TestNoHost(t *testing.T) {
	if err := EmitJSON(map[string]int{"a": 1}); !errors.Is(err, ErrNoHost) {
		t.Errorf("EmitJSON = %v, want ErrNoHost", err)
	}
	if err := EmitJSONBytes(nil); !errors.Is(err, ErrNoHost) {
		t.Errorf("EmitJSONBytes = %v, want ErrNoHost", err)
	}
	var p struct{ Scale int }
	if err := Params(&p); !errors.Is(err, ErrNoHost) {
		t.Errorf("Params = %v, want ErrNoHost", err)
	}
	if v, ok := Param("scale"); ok || v != "" {
		t.Errorf("Param = %q, %v", v, ok)
	}
	if s := Slice(); s != (SliceInfo{}) {
		t.Errorf("Slice = %+v", s)
	}
	if ct := CollectionType(); ct != "" {
		t.Errorf("CollectionType = %q", ct)
	}
	w := NewCSV()
	if err := w.Header("a"); !errors.Is(err, ErrNoHost) {
		t.Errorf("Header = %v, want ErrNoHost", err)
	}
	if err := w.Row("x"); !errors.Is(err, ErrNoHost) {
		t.Errorf("Row after a failed Header = %v, want ErrNoHost", err)
	}
	Log(LevelInfo, "dropped")
	Infof("dropped %d", 1)
	Fail("ignored")
	if code := Run(func() error { return nil }); code != 0 {
		t.Errorf("Run = %d", code)
	}
	if code := Run(func() error { return EmitJSON(1) }); code != 1 {
		t.Errorf("Run of a collector that needs the host = %d", code)
	}
	if ErrNoHost.Error() != "collector: not running inside a wasmcollector host" {
		t.Errorf("ErrNoHost = %q", ErrNoHost)
	}
}

func TestEmitJSONMarshalError(t *testing.T) {
	err := EmitJSON(func() {})
	if err == nil || errors.Is(err, ErrNoHost) {
		t.Fatalf("EmitJSON(func) = %v, want a marshalling error", err)
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[Level]string{
		LevelDebug: "debug", LevelInfo: "info", LevelWarn: "warn", LevelError: "error", 7: "level(7)",
	} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int32(l), got, want)
		}
	}
}
