//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gen(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--sqlite", "a.db", "--postgres", "host=x"},
		{"--sqlite", "a.db", "--scale", "0"},
		{"--sqlite", "a.db", "--days", "0"},
		{"--sqlite", "a.db", "--until", "yesterday"},
		{"--sqlite", "a.db", "extra"},
		{"--nope"},
	} {
		_, errs, code := gen(t, args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.NotEmpty(t, errs, "%q", args)
	}
	_, errs, code := gen(t, "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, errs, "Usage: gen")
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "awx.db")
	out, errs, code := gen(t, "--sqlite", path, "--until", "2026-11-26T00:00:00Z", "--quiet")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "loaded scale 1 (seed 1, 28 days up to 2026-11-26T00:00:00Z) into "+path)
	assert.Regexp(t, `main_organization +3\n`, out)
	assert.Regexp(t, `main_jobevent +\d{4}\n`, out)

	// Loading again replaces the file as a whole; no temporary file is left behind.
	require.NoError(t, os.WriteFile(path, []byte("not a database"), 0o644))
	_, errs, code = gen(t, "--sqlite", path, "--until", "2026-11-26T00:00:00Z", "--seed", "2", "--quiet")
	require.Equal(t, 0, code, errs)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM main_organization").Scan(&n))
	assert.Equal(t, 3, n)
}

func TestLoadFails(t *testing.T) {
	_, errs, code := gen(t, "--postgres", "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2", "--quiet")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "gen: awxdata: connect to PostgreSQL")

	dir := t.TempDir()
	_, errs, code = gen(t, "--sqlite", dir, "--quiet")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "is a directory")
}
