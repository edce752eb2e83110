// Package newcmd implements `wasmcollector new`: it writes a ready-to-build collector project in Go,
// C or Rust, with one CSV collector, its sidecar, a registry to try it with, a Makefile and a
// README. The files are text/template templates embedded from templates/; the SDK is copied in from
// the embedded guest-sdk files, so that the project builds offline (or, --sdk, taken from a
// checkout).
package newcmd

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	sdkfiles "github.com/wasmcollector/wasmcollector/guest-sdk"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
)

//go:embed templates
var templates embed.FS

// modulePath is wasmcollector's own Go module, which --sdk must be a checkout of.
const modulePath = "github.com/wasmcollector/wasmcollector"

// sdkDir is the directory of a Go or Rust project that holds its copy of the SDK.
const sdkDir = "wasmcollector-sdk"

// rustTarget is the target Rust projects build for: the Rust SDK supports wasm32-wasi and
// wasm32-unknown-unknown; wasm32-wasi has a clock (std::time::SystemTime::now).
const rustTarget = "wasm32-wasi"

// Languages new writes projects in.
var languages = []string{"go", "c", "rust"}

// namePattern is what a project name may be: a collector key that is also a file, directory, Go
// module element and Cargo package name.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// Options are the flags and argument of new.
type Options struct {
	Factory *cmdutil.Factory
	Name    string
	Lang    string
	Dir     string
	SDK     string
}

// NewCmdNew returns the new command; runF replaces the real run in tests when not nil.
func NewCmdNew(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "new [--lang go|c|rust] <name> [--dir <dir>] [--sdk <path>]",
		Short: "Write a new collector project, ready to build",
		Long: `Write a collector project in <dir>/<name> (default ./<name>): the source of a module with one CSV
collector, <name>, that writes a few rows for its slice and reads a parameter; its sidecar
<name>.toml (format csv, slicing 1h); a collectors.toml to try it with (modules_dir = ".", and a
stand-in config collector the module also exports); a Makefile and a README.

  make            builds <name>.wasm
  make run        runs the collector for the last hour (wasmcollector run <name> -c collectors.toml)
  make check      wasmcollector check <name>.wasm: is it fit to ship?

Languages:
  go    the Go SDK module (no dependencies), copied into wasmcollector-sdk/; go.mod requires it
        and a replace directive points at the copy, so the build needs no network. Go 1.24 or
        later, GOOS=wasip1 GOARCH=wasm.
  c     the C SDK header, wasmcollector.h, copied into the project; built with clang for
        wasm32-wasi (Debian: clang lld wasi-libc libclang-rt-dev-wasm32).
  rust  the Rust SDK crate, copied into wasmcollector-sdk/; the collector crate is in collector/,
        built offline with Debian's /usr/bin/rustc and cargo for wasm32-wasi
        (Debian: rustc cargo libstd-rust-dev-wasm32).

--sdk <checkout> takes the SDK from a wasmcollector checkout instead of the copy built into this
binary: for Go, go.mod's replace directive points at <checkout>/guest-sdk/go and nothing is
copied; for C and Rust, the checkout's SDK is copied.

<name> is 1 to 64 letters, digits, "_" or "-", starting with a letter. The directory must not
exist or be empty.`,
		Example: `  wasmcollector new logins && make -C logins
  wasmcollector new --lang c logins --dir ~/src
  wasmcollector new --lang rust logins && make -C logins run`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Lang, "lang", "go", "language: {go|c|rust}")
	fl.StringVar(&opts.Dir, "dir", ".", "write the project in `dir`/<name>")
	fl.StringVar(&opts.SDK, "sdk", "", "a wasmcollector checkout `path` to take the SDK from instead of the built-in copy (Go: a replace directive to it)")
	return cmd
}

// file is one file of a project, for writing and for the README's table.
type file struct {
	Path  string // slash-separated, relative to the project
	About string
	body  []byte
	// unlisted files are written but left out of the listing (a copied SDK is listed as its
	// directory); listOnly entries are listed but not written.
	unlisted, listOnly bool
}

// listed returns the files that the listing shows.
func listed(files []file) []file {
	var out []file
	for _, f := range files {
		if !f.unlisted {
			out = append(out, f)
		}
	}
	return out
}

// data is what the templates see.
type data struct {
	Name, Lang, LangName string
	SDK                  string // Go: the replace target of the SDK module
	SDKModule            string // Go: the SDK's module path
	GoVersion            string
	Crate, CrateFile     string // Rust: package name, and the .wasm cargo writes
	RustTarget           string
	BuildNote            string
	Files                []file
}

// Run writes the project.
func Run(opts *Options) error {
	f := opts.Factory
	if !namePattern.MatchString(opts.Name) {
		return cmdutil.BadInput("name %q: use 1 to 64 letters, digits, \"_\" or \"-\", starting with a letter", opts.Name)
	}
	if opts.Name == "config" {
		return cmdutil.BadInput(`name "config": the project's stand-in config collector has that key; pick another`)
	}
	if !slices.Contains(languages, opts.Lang) {
		return cmdutil.BadInput("--lang %q: must be go, c or rust", opts.Lang)
	}
	sdk := ""
	if opts.SDK != "" {
		abs, err := checkSDK(opts.SDK, opts.Lang)
		if err != nil {
			return err
		}
		sdk = abs
	}
	dir := filepath.Join(opts.Dir, opts.Name)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return cmdutil.BadInput("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cmdutil.BadInput("%s: %w", dir, err)
	}

	files, err := project(opts.Name, opts.Lang, sdk)
	if err != nil {
		return err
	}
	for _, fl := range files {
		if fl.listOnly {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(fl.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return cmdutil.Failed(err)
		}
		if err := os.WriteFile(p, fl.body, 0o644); err != nil {
			return cmdutil.Failed(err)
		}
	}
	fmt.Fprintf(f.Stdout, "wrote %s, a %s collector project:\n", dir, langName(opts.Lang))
	for _, fl := range listed(files) {
		fmt.Fprintf(f.Stdout, "  %-34s %s\n", fl.Path, fl.About)
	}
	fmt.Fprintf(f.Stdout, "next: make -C %s && make -C %s run\n", dir, dir)
	return nil
}

// checkSDK checks that path is a wasmcollector checkout with the SDK lang needs and returns it
// absolute.
func checkSDK(p, lang string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", cmdutil.BadInput("--sdk %s: %w", p, err)
	}
	gomod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil || !regexp.MustCompile(`(?m)^module\s+`+regexp.QuoteMeta(modulePath)+`\s*$`).Match(gomod) {
		return "", cmdutil.BadInput("--sdk %s: not a wasmcollector checkout (want a go.mod declaring module %s)", p, modulePath)
	}
	need := map[string]string{"go": "guest-sdk/go/go.mod", "c": "guest-sdk/c/wasmcollector.h", "rust": "guest-sdk/rust/src/lib.rs"}[lang]
	if _, err := os.Stat(filepath.Join(abs, filepath.FromSlash(need))); err != nil {
		return "", cmdutil.BadInput("--sdk %s: has no %s", p, need)
	}
	return abs, nil
}

func langName(lang string) string {
	return map[string]string{"go": "Go", "c": "C", "rust": "Rust"}[lang]
}

// project returns the files of a project, README last (it lists the others).
func project(name, lang, sdk string) ([]file, error) {
	d := &data{Name: name, Lang: lang, LangName: langName(lang), RustTarget: rustTarget}
	var files []file
	add := func(dst, tmpl, about string) error {
		b, err := render(tmpl, d)
		if err != nil {
			return err
		}
		files = append(files, file{Path: dst, About: about, body: b})
		return nil
	}
	var errs []error
	switch lang {
	case "go":
		d.SDKModule = sdkfiles.GoModulePath
		var sdkFiles []file
		var gomod []byte
		var err error
		if sdk != "" {
			d.SDK = goModPath(filepath.Join(sdk, "guest-sdk", "go"))
			gomod, err = os.ReadFile(filepath.Join(sdk, "guest-sdk", "go", "go.mod"))
			if err != nil {
				return nil, cmdutil.BadInput("--sdk: %w", err)
			}
		} else {
			d.SDK = "./" + sdkDir
			if sdkFiles, err = goSDK(); err != nil {
				return nil, err
			}
			gomod, err = fs.ReadFile(sdkfiles.GoSDK, "go.mod")
			if err != nil {
				return nil, fmt.Errorf("new: Go SDK: %w", err)
			}
		}
		if d.GoVersion, err = goVersion(gomod); err != nil {
			return nil, err
		}
		where := "the copy in `" + sdkDir + "/`, so the build needs no network"
		if sdk != "" {
			where = "the checkout `" + d.SDK + "`"
		}
		d.BuildNote = "It needs Go " + d.GoVersion + " or later (the SDK's own go.mod says so). go.mod requires the SDK " +
			"module, " + d.SDKModule + ", which has no dependencies; its `replace` directive points at " + where + "."
		errs = append(errs,
			add("main.go", "go/main.go.tmpl", "the collector, on the Go SDK"),
			add("go.mod", "go/go.mod.tmpl", "the Go module; requires the SDK"),
			add("Makefile", "go/Makefile.tmpl", "make: build; make run, validate, check"))
		files = append(files, sdkFiles...)
	case "c":
		d.BuildNote = "It needs clang with the wasm32-wasi sysroot (Debian: `apt-get install clang lld wasi-libc " +
			"libclang-rt-dev-wasm32`). The SDK is the single header `wasmcollector.h`, copied here."
		header, err := sdkFile(sdk, sdkfiles.CHeader)
		if err != nil {
			return nil, err
		}
		errs = append(errs, add(name+".c", "c/collector.c.tmpl", "the collector, on the C SDK"))
		files = append(files, file{Path: "wasmcollector.h", About: "the C SDK (ABI v1), one header", body: header})
		errs = append(errs, add("Makefile", "c/Makefile.tmpl", "make: build; make run, validate, check"))
	case "rust":
		d.Crate = name
		d.CrateFile = strings.ReplaceAll(name, "-", "_")
		d.BuildNote = "It needs Debian's Rust 1.63 or later with the WebAssembly standard library (`apt-get install " +
			"rustc cargo libstd-rust-dev-wasm32`), called as `/usr/bin/rustc` (override with `make RUSTC=… CARGO=…`). " +
			"The build is offline: the only dependency is the SDK crate, copied into `wasmcollector-sdk/`."
		crate, err := sdkCrate(sdk)
		if err != nil {
			return nil, err
		}
		errs = append(errs,
			add("collector/Cargo.toml", "rust/Cargo.toml.tmpl", "the collector crate (a cdylib)"),
			add("collector/src/lib.rs", "rust/lib.rs.tmpl", "the collector, on the Rust SDK"))
		files = append(files, crate...)
		errs = append(errs, add("Makefile", "rust/Makefile.tmpl", "make: build; make run, validate, check"))
	}
	errs = append(errs,
		add(name+".toml", "common/sidecar.toml.tmpl", "the sidecar: declares the collector; ships with the module"),
		add("collectors.toml", "common/collectors.toml.tmpl", "a registry to try it with (make run)"),
		add(".gitignore", "common/gitignore.tmpl", "build output"))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d.Files = append(listed(files), file{Path: "README.md", About: "build, run, check, ship"})
	if err := add("README.md", "common/README.md.tmpl", "build, run, check, ship"); err != nil {
		return nil, err
	}
	return files, nil
}

func render(name string, d *data) ([]byte, error) {
	t, err := template.New(path.Base(name)).Option("missingkey=error").ParseFS(templates, "templates/"+name)
	if err != nil {
		return nil, fmt.Errorf("new: template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("new: template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// sdkFile returns an SDK file: from the checkout sdk (guest-sdk/<name>) when given, else the copy
// embedded in this binary.
func sdkFile(sdk, name string) ([]byte, error) {
	if sdk != "" {
		b, err := os.ReadFile(filepath.Join(sdk, "guest-sdk", filepath.FromSlash(name)))
		if err != nil {
			return nil, cmdutil.BadInput("--sdk: %w", err)
		}
		return b, nil
	}
	return fs.ReadFile(sdkfiles.FS, name)
}

// sdkCrate returns the Rust SDK crate's files (Cargo.toml and src/), under wasmcollector-sdk/.
func sdkCrate(sdk string) ([]file, error) {
	var src fs.FS = sdkfiles.FS
	root := sdkfiles.RustCrate
	if sdk != "" {
		src, root = os.DirFS(filepath.Join(sdk, "guest-sdk", "rust")), "."
	}
	var out []file
	err := fs.WalkDir(src, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if d.IsDir() {
			if rel == "target" || strings.HasPrefix(d.Name(), ".") && rel != "" {
				return fs.SkipDir
			}
			return nil
		}
		if rel != "Cargo.toml" && !strings.HasPrefix(rel, "src/") {
			return nil
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		about := "the Rust SDK crate"
		if rel != "Cargo.toml" {
			about = "the Rust SDK (ABI v1)"
		}
		out = append(out, file{Path: sdkDir + "/" + rel, About: about, body: b})
		return nil
	})
	if err != nil {
		return nil, cmdutil.BadInput("rust SDK: %w", err)
	}
	return out, nil
}

// goVersion is the go line of a Go project's go.mod: that of the SDK's go.mod, since a module
// cannot require one that needs a newer Go than it says.
func goVersion(sdkGoMod []byte) (string, error) {
	m := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindSubmatch(sdkGoMod)
	if m == nil {
		return "", cmdutil.BadInput("Go SDK: its go.mod has no go line")
	}
	return string(m[1]), nil
}

// goModPath returns p as a go.mod token: quoted when it holds a space, a quote or anything else
// that would end or break the token.
func goModPath(p string) string {
	if strings.ContainsAny(p, " \t\r\n\"'`\\()[]{},;") || strings.Contains(p, "//") {
		return strconv.Quote(p)
	}
	return p
}

// goSDK returns the embedded Go SDK module's files under wasmcollector-sdk/, without its tests.
func goSDK() ([]file, error) {
	var out []file
	err := fs.WalkDir(sdkfiles.GoSDK, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := fs.ReadFile(sdkfiles.GoSDK, p)
		if err != nil {
			return err
		}
		out = append(out, file{Path: sdkDir + "/" + p, body: b, unlisted: true})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("new: Go SDK: %w", err)
	}
	return append(out, file{Path: sdkDir + "/", About: "the Go SDK module (ABI v1), with no dependencies", listOnly: true}), nil
}
