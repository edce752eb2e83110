package collector

import (
	"fmt"
	"strconv"

	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
)

// Level is the severity of a log message.
type Level int32

// Log levels, as the log host function numbers them.
const (
	LevelDebug Level = abi.LogDebug
	LevelInfo  Level = abi.LogInfo
	LevelWarn  Level = abi.LogWarn
	LevelError Level = abi.LogError
)

// String returns "debug", "info", "warn" or "error".
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Log sends msg to the host's logger at level, tagged with the collector key and source=guest.
// Logging never fails a collector: a message over 4 KiB is cut, and once the invocation's log budget
// (max_log_bytes, default 64 KiB) is spent messages are dropped and counted. Outside a host Log does
// nothing.
func Log(level Level, msg string) {
	_ = logMessage(level, msg)
}

// Debugf logs a message formatted as by fmt.Sprintf at LevelDebug.
func Debugf(format string, args ...any) { Log(LevelDebug, fmt.Sprintf(format, args...)) }

// Infof logs a message formatted as by fmt.Sprintf at LevelInfo.
func Infof(format string, args ...any) { Log(LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf logs a message formatted as by fmt.Sprintf at LevelWarn.
func Warnf(format string, args ...any) { Log(LevelWarn, fmt.Sprintf(format, args...)) }

// Errorf logs a message formatted as by fmt.Sprintf at LevelError. It only logs; to fail the
// collector return an error from the function given to [Run], or call [Fail].
func Errorf(format string, args ...any) { Log(LevelError, fmt.Sprintf(format, args...)) }
