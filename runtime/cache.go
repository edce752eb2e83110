package runtime

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DefaultCacheDir returns the compilation cache directory used when none is configured:
// os.UserCacheDir()/wasmcollector/wazero.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("runtime: find cache directory: %w (set cache_dir)", err)
	}
	return filepath.Join(base, "wasmcollector", "wazero"), nil
}

// PruneCache removes the oldest files of the compilation cache in dir ("" for the default)
// until it holds at most maxBytes, and returns how many it removed. Entries are compiled native
// code keyed by module content: one removed is compiled again when next needed. Files modified
// in the last minute are kept, so that a cache in use by a running gather is not pulled from
// under it.
func PruneCache(dir string, maxBytes int64) (int, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return 0, err
		}
	}
	type entry struct {
		path string
		size int64
		mod  time.Time
	}
	var entries []entry
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		entries = append(entries, entry{path, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("runtime: prune cache %s: %w", dir, err)
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.mod.UnixNano(), b.mod.UnixNano()) })
	removed := 0
	recent := time.Now().Add(-time.Minute)
	for _, e := range entries {
		if total <= maxBytes || e.mod.After(recent) {
			break
		}
		if err := os.Remove(e.path); err == nil {
			total -= e.size
			removed++
		}
	}
	return removed, nil
}
