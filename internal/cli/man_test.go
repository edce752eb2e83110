package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManPages: `wasmcollector man DIR` writes a page for every visible command from its help,
// in roff that keeps what Markdown would eat (<placeholders>, *, indented tables), and none for
// hidden commands; man itself renders them when installed.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	t.Setenv("SOURCE_DATE_EPOCH", "1764633600") // 2025-12-02: reproducible dates
	_, errs, code := runCLI(t, "man", dir)
	require.Equal(t, 0, code, errs)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var pages []string
	for _, e := range entries {
		pages = append(pages, e.Name())
	}
	for _, want := range []string{"wasmcollector.1", "wasmcollector-gather.1", "wasmcollector-serve.1", "wasmcollector-state-reset.1",
		"wasmcollector-validate.1", "wasmcollector-completion-bash.1"} {
		assert.Contains(t, pages, want)
	}
	assert.NotContains(t, pages, "wasmcollector-man.1", "hidden commands get no page")

	b, err := os.ReadFile(filepath.Join(dir, "wasmcollector-serve.1"))
	require.NoError(t, err)
	serve := string(b)
	assert.Contains(t, serve, `.TH "WASMCOLLECTOR-SERVE" "1" "Dec 2025" "wasmcollector `)
	assert.Contains(t, serve, "[--listen <addr>] [--interval <duration> | --cron <expr>]", "placeholders survive")
	assert.Contains(t, serve, `"TZ=Europe/Paris 0 3 * * *"`, "asterisks are not emphasis")
	assert.Contains(t, serve, ".EX\n  /          the collectors", "an indented table stays a literal block")
	assert.Contains(t, serve, "\n  /metrics   Prometheus metrics\n  /healthz")
	assert.Contains(t, serve, "basic_auth_file")
	assert.NotContains(t, serve, "Auto generated")

	b, err = os.ReadFile(filepath.Join(dir, "wasmcollector.1"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "\\fBwasmcollector-serve(1)\\fP", "the root page lists the others")

	if _, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command("man", "-l", filepath.Join(dir, "wasmcollector-gather.1")).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, strings.Join(strings.Fields(string(out)), " "), "--scheduled as --manual, quiet unless something fails")
	}

	_, errs, code = runCLI(t, "man")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "accepts 1 arg")
}
