package collector

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// fakeRead serves value the way param / params_json do: it writes the length, then the bytes if
// they fit, and answers buffer_too_small otherwise.
func fakeRead(value string, calls *[]uint32) func(unsafe.Pointer, uint32, unsafe.Pointer) uint32 {
	return func(buf unsafe.Pointer, bufCap uint32, lenOut unsafe.Pointer) uint32 {
		*calls = append(*calls, bufCap)
		*(*uint32)(lenOut) = uint32(len(value))
		if uint32(len(value)) > bufCap {
			return uint32(abi.BufferTooSmall)
		}
		copy(unsafe.Slice((*byte)(buf), bufCap), value)
		return uint32(abi.OK)
	}
}

func TestReadValue(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		wantCalls int
	}{
		{"empty", "", 1},
		{"small", "600", 1},
		{"exactly the first buffer", strings.Repeat("x", 256), 1},
		{"retried with the needed length", strings.Repeat("y", 257), 2},
		{"large", strings.Repeat("z", 1<<20), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []uint32
			b, st := readValue(fakeRead(tt.value, &calls))
			if st != uint32(abi.OK) || string(b) != tt.value {
				t.Fatalf("readValue = %d bytes, status %d; want %d bytes, ok", len(b), st, len(tt.value))
			}
			if len(calls) != tt.wantCalls {
				t.Fatalf("host called %d times (caps %v), want %d", len(calls), calls, tt.wantCalls)
			}
			if len(calls) == 2 && calls[1] != uint32(len(tt.value)) {
				t.Fatalf("retry buffer cap %d, want %d", calls[1], len(tt.value))
			}
		})
	}
}

func TestReadValueStatuses(t *testing.T) {
	t.Run("not found", func(t *testing.T) {
		b, st := readValue(func(unsafe.Pointer, uint32, unsafe.Pointer) uint32 { return uint32(abi.NotFound) })
		if b != nil || st != uint32(abi.NotFound) {
			t.Fatalf("got %q, %d", b, st)
		}
	})
	t.Run("host keeps growing the value", func(t *testing.T) {
		n := uint32(1000)
		calls := 0
		b, st := readValue(func(_ unsafe.Pointer, _ uint32, lenOut unsafe.Pointer) uint32 {
			calls++
			n *= 2
			*(*uint32)(lenOut) = n
			return uint32(abi.BufferTooSmall)
		})
		if b != nil || st != uint32(abi.BufferTooSmall) || calls != maxReadAttempts {
			t.Fatalf("got %q, status %d after %d calls", b, st, calls)
		}
	})
	t.Run("ok with a length over the buffer", func(t *testing.T) {
		calls := 0
		b, st := readValue(func(_ unsafe.Pointer, c uint32, lenOut unsafe.Pointer) uint32 {
			calls++
			*(*uint32)(lenOut) = c + 1
			return uint32(abi.OK)
		})
		if b != nil || st != uint32(abi.BufferTooSmall) {
			t.Fatalf("got %q, status %d after %d calls", b, st, calls)
		}
	})
}

func TestArgsOfEmptyBuffers(t *testing.T) {
	for name, p := range map[string]unsafe.Pointer{
		"nil bytes":   first(bytesArg(nil)),
		"empty bytes": first(bytesArg([]byte{})),
		"empty str":   first(stringArg("")),
	} {
		if p != unsafe.Pointer(&placeholder[0]) {
			t.Errorf("%s: pointer %p, want the placeholder", name, p)
		}
	}
	b := []byte("abc")
	if p, n := bytesArg(b); p != unsafe.Pointer(&b[0]) || n != 3 {
		t.Errorf("bytesArg = %p, %d", p, n)
	}
	s := "abc"
	if p, n := stringArg(s); p != unsafe.Pointer(unsafe.StringData(s)) || n != 3 {
		t.Errorf("stringArg = %p, %d", p, n)
	}
}

func first(p unsafe.Pointer, _ uint32) unsafe.Pointer { return p }
