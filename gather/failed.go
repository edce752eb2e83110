package gather

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// keepFailed moves a tarball the ingress did not take into OutDir/failed and prunes that folder
// to the newest FailedKeep tarballs. It returns where the tarball is now, "" if it was not kept.
// The data is not lost either way: its keys did not advance, so the next run collects it again.
func (g *gatherer) keepFailed(t *packaging.Tarball) string {
	if g.opts.FailedKeep <= 0 {
		os.Remove(t.Path)
		return ""
	}
	dir := filepath.Join(g.opts.OutDir, "failed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		g.log.Warn("keep failed tarball", "tarball", t.Name, "error", err)
		return t.Path
	}
	dst := filepath.Join(dir, t.Name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); os.IsNotExist(err) {
			break
		}
		dst = filepath.Join(dir, strings.TrimSuffix(t.Name, ".tar.gz")+"."+strconv.Itoa(i)+".tar.gz")
	}
	if err := os.Rename(t.Path, dst); err != nil {
		g.log.Warn("keep failed tarball", "tarball", t.Name, "error", err)
		return t.Path
	}
	g.pruneFailed(dir)
	if _, err := os.Stat(dst); err != nil {
		return ""
	}
	return dst
}

// pruneFailed removes all but the newest FailedKeep tarballs of dir (by modification time, then
// name).
func (g *gatherer) pruneFailed(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  int64
	}
	var files []file
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && strings.HasSuffix(e.Name(), ".tar.gz") {
			files = append(files, file{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].mod != files[j].mod {
			return files[i].mod > files[j].mod
		}
		return files[i].name > files[j].name
	})
	for _, f := range files[min(len(files), g.opts.FailedKeep):] {
		if err := os.Remove(filepath.Join(dir, f.name)); err == nil {
			g.log.Info("removed an old failed tarball (failed_keep)", "tarball", f.name)
		}
	}
}
