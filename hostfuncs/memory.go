package hostfuncs

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// All guest-memory access goes through these helpers: a range outside linear memory traps with a
// *TrapError naming the function, which ends only that invocation.

func read(m api.Module, fn string, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		trap(m, fn, ptr, n)
	}
	return b
}

func writeBytes(m api.Module, fn string, ptr uint32, b []byte) {
	if !m.Memory().Write(ptr, b) {
		trap(m, fn, ptr, uint32(len(b)))
	}
}

func writeU32(m api.Module, fn string, ptr, v uint32) {
	if !m.Memory().WriteUint32Le(ptr, v) {
		trap(m, fn, ptr, 4)
	}
}

func trap(m api.Module, fn string, ptr, n uint32) {
	panic(&TrapError{Func: fn, Reason: fmt.Sprintf(
		"pointer out of bounds: ptr %d + len %d is outside guest memory of %d bytes", ptr, n, m.Memory().Size())})
}

// checkContext stops a guest that keeps calling the host after its deadline; wazero's own check
// catches the loops that do not call out.
func checkContext(ctx context.Context) {
	if err := ctx.Err(); err != nil {
		code := sys.ExitCodeContextCanceled
		if err == context.DeadlineExceeded {
			code = sys.ExitCodeDeadlineExceeded
		}
		panic(sys.NewExitError(code))
	}
}
