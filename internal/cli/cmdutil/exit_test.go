package cmdutil

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestUsageError: a command-line error is told apart by its type, through wrapping, and exits 2;
// bad input that mentions a flag is not one.
func TestUsageError(t *testing.T) {
	flagErr := errors.New("unknown flag: --bogus")
	err := fmt.Errorf("check: %w", UsageError(flagErr))
	assert.True(t, IsUsage(err))
	assert.ErrorIs(t, err, flagErr)
	assert.Equal(t, ExitBadInput, Code(err))
	assert.Equal(t, "check: unknown flag: --bogus", err.Error())

	assert.False(t, IsUsage(BadInput("--timeout flag: must be more than 0")))
	assert.False(t, IsUsage(Failed(errors.New("flag"))))
	assert.False(t, IsUsage(nil))
}
