package wasmcollector

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// LoadFS loads a registry shipped inside the product, such as an embed.FS holding
// collectors.toml and its modules directory. name is the root file's path in fsys; the modules
// directory is the one its [runtime] modules_dir names (default "modules"), relative to name.
//
// The host runs modules from files (workers open them by path), so LoadFS writes the root file
// and the modules directory into dir, replacing what was there under those names, and loads
// the copy. Every other relative path in the TOML (out_dir, state_dir, a SQLite file, mounts,
// secret files) resolves against dir, as it would for a collectors.toml in dir: keep the
// bookkeeping there across restarts, or it is lost and data is collected again. opts may be nil.
func LoadFS(fsys fs.FS, name string, dir string, opts *Options) (*Host, error) {
	if dir == "" {
		return nil, errors.New("wasmcollector: LoadFS needs a directory to write the registry into")
	}
	text, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	// Only modules_dir is read here; the registry parses and checks everything, modules_dir too.
	var head struct {
		Runtime struct {
			ModulesDir string `toml:"modules_dir"`
		} `toml:"runtime"`
	}
	_, _ = toml.Decode(string(text), &head)
	modules := head.Runtime.ModulesDir
	if modules == "" {
		modules = "modules"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	root := filepath.Join(dir, path.Base(name))
	if err := os.WriteFile(root, text, 0o644); err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	if !filepath.IsAbs(modules) { // an absolute modules_dir is on the host already
		src := path.Join(path.Dir(name), filepath.ToSlash(modules))
		if !fs.ValidPath(src) {
			return nil, fmt.Errorf("load registry: modules_dir %q leaves the file system", modules)
		}
		if err := copyTree(fsys, src, filepath.Join(dir, filepath.FromSlash(modules))); err != nil {
			return nil, fmt.Errorf("load registry: modules_dir: %w", err)
		}
	}
	return Load(root, opts)
}

// copyTree replaces dst with a copy of the directory src of fsys: regular files and
// directories only.
func copyTree(fsys fs.FS, src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return fs.WalkDir(fsys, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.FromSlash(src), filepath.FromSlash(p))
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
