package hostfuncs

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

var logLevels = [...]slog.Level{
	abi.LogDebug: slog.LevelDebug, abi.LogInfo: slog.LevelInfo,
	abi.LogWarn: slog.LevelWarn, abi.LogError: slog.LevelError,
}

// readMessage reads at most maxMessageBytes of a guest message and reports whether it was cut. Only
// the part read is bounds-checked, so a huge length is a cut message, not a trap.
func readMessage(m api.Module, fn string, ptr, n uint32) (string, bool) {
	cut := n > maxMessageBytes
	if cut {
		n = maxMessageBytes
	}
	b := read(m, fn, ptr, n)
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), cut
	}
	return string(b), cut
}

// logMessage implements log(level, ptr, len) -> status: see ABI.md "log".
func logMessage(ctx context.Context, m api.Module, stack []uint64) {
	checkContext(ctx)
	inv := invocationFrom(ctx)
	level, ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	if level >= uint32(len(logLevels)) {
		stack[0] = uint64(abi.Invalid)
		return
	}
	if inv.logBytes >= inv.limits.MaxLogBytes {
		inv.report.LogDropped++
		stack[0] = uint64(abi.OverBudget)
		return
	}
	msg, cut := readMessage(m, abi.FuncLog, ptr, n)
	if rest := inv.limits.MaxLogBytes - inv.logBytes; int64(len(msg)) > rest {
		msg, cut = msg[:rest], true
	}
	inv.logBytes += int64(len(msg))
	inv.log.Log(ctx, logLevels[level], msg)
	if cut {
		stack[0] = uint64(abi.TooLarge)
		return
	}
	stack[0] = uint64(abi.OK)
}

// fail implements fail(ptr, len) -> status: see ABI.md "fail".
func fail(ctx context.Context, m api.Module, stack []uint64) {
	inv := invocationFrom(ctx)
	msg, cut := readMessage(m, abi.FuncFail, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	inv.failed = true
	inv.report.FailMessage = msg
	if cut {
		stack[0] = uint64(abi.TooLarge)
		return
	}
	stack[0] = uint64(abi.OK)
}
