package packaging

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Defaults of [Options].
const (
	// DefaultMaxDataSize is the default of [Options.MaxDataSize] and of the splitter's limit:
	// upstream's 200 MiB, chosen for an ingress limit of 100 MB at 50 % compression or better.
	DefaultMaxDataSize = 200 * 1048576
	// DefaultBase is the default of [Options.Base].
	DefaultBase = "analytics"
	// DefaultLevel is the gzip level used when [Options.Level] is 0. See [Options.Level] for why.
	DefaultLevel = 6
	// DefaultGroup is the shipping group of a [Collection] whose Group is empty.
	DefaultGroup = "default"
)

// Formats of a [Collection].
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// Collection is one output placed into a package (upstream's Collection): a JSON document or ONE
// CSV part, staged in a file.
//
// Adding a collection to a [Packer] hands its staged file over: the Packer deletes it once its
// package is processed.
type Collection struct {
	// Key is the collector's key. The member name in the tarball is "./<Key>.<Format>", so a
	// package holds at most one collection per key. It must not be empty, ".", "..", or contain
	// a slash, a backslash or NUL.
	Key string
	// Version is the version of the collector's format, written into manifest.json as given
	// (the registry supplies upstream's default "1.0").
	Version string
	// Format is [FormatJSON] or [FormatCSV].
	Format string
	// Group is the shipping group; collections share tarballs only within a group. Empty means
	// [DefaultGroup].
	Group string
	// Path is the staged file; empty for a failed collection, which adds nothing to the tarball.
	Path string
	// Compressed, when set, is the staged file's tarball member compressed ahead (a Part's
	// Compressed, under the packer's Until and level): the tarball copies it instead of
	// compressing Path. It is removed with Path.
	Compressed string
	// Size is the number of bytes counted against [Options.MaxDataSize]: the staged file's size.
	// It is ignored (taken as 0) for a failed collection.
	Size int64
	// Since and Until are the collection's window; the zero time means none (an empty field in
	// data_collection_status.csv).
	Since, Until time.Time
	// Started and Finished are when gathering started and finished.
	Started, Finished time.Time
	// Failed marks a collection whose gathering failed (status "failed").
	Failed bool
	// Sliced applies upstream's ship-immediately rule: the package the collection lands in is
	// processed right after it is added.
	Sliced bool
	// Ref is opaque to this package; it is handed back in [Tarball.Collections] so the caller
	// can find its bookkeeping.
	Ref any
}

func (c *Collection) fileName() string { return c.Key + "." + c.Format }

func (c *Collection) hasMember() bool { return !c.Failed && c.Path != "" }

func (c *Collection) validate() error {
	switch {
	case c.Key == "" || c.Key == "." || c.Key == ".." || strings.ContainsAny(c.Key, "/\\\x00"):
		return fmt.Errorf("packaging: collection key %q is not a valid file name", c.Key)
	case c.Format != FormatJSON && c.Format != FormatCSV:
		return fmt.Errorf("packaging: collection %q: format %q is neither %q nor %q", c.Key, c.Format, FormatJSON, FormatCSV)
	case c.Size < 0:
		return fmt.Errorf("packaging: collection %q: negative size %d", c.Key, c.Size)
	case c.Format == FormatJSON && !c.Failed && c.Path == "":
		return fmt.Errorf("packaging: collection %q: json collection has no staged file", c.Key)
	}
	return nil
}

// Config is the staged config document that goes into every tarball as config.json.
type Config struct {
	// Version is the config collector's version, written into manifest.json.
	Version string
	// Path is the staged file. Empty means the config failed or is absent: tarballs then have
	// no config.json and their manifest does not list it. The caller owns the file; the Packer
	// never deletes it.
	Path string
}

// Options configures a [Packer]. The zero value of each field but Dir and Until selects its
// default.
type Options struct {
	// Dir is the output directory for tarballs. It must exist. It is never deleted or cleaned
	// (design.md D6), and a file already in it is never overwritten.
	Dir string
	// Base starts every tarball name; default [DefaultBase].
	Base string
	// Until is the gather's until: it is in tarball names and is the mtime of every member.
	// It must not be zero.
	Until time.Time
	// MaxDataSize is the uncompressed collection data allowed per tarball, in bytes; default
	// [DefaultMaxDataSize]. config.json, manifest.json and the status file do not count.
	MaxDataSize int64
	// Config is the staged config document; nil means none (see [Config.Path]).
	Config *Config
	// Level is the gzip compression level, 1 (fastest) to 9 (smallest), or one of klauspost's
	// special levels (gzip.HuffmanOnly, gzip.StatelessCompression, gzip.DefaultCompression).
	// 0 means [DefaultLevel], 6 and not upstream's 9: on CSV, level 9 costs several times the CPU
	// of level 6 for output only a few percent smaller (BenchmarkPack measures both), and the
	// limits that matter — MaxDataSize and the ingress's 100 MB — assume only 50 % compression.
	// The ingress reads the content, not the level.
	Level int
	// Reserved, when set, reports names a tarball must not take besides those of files in Dir:
	// the gather reserves the names of its pending tarballs, which live elsewhere.
	Reserved func(name string) bool
	// NoSync skips flushing each tarball's content to disk. A gather that ships needs it durable
	// before it records the tarball; a dry run, which records nothing, does not.
	NoSync bool
}

// Packer places collections into packages and writes each package as a tarball (upstream's
// Collector packing, reference/upstream-behaviour.md 3.6–3.7).
//
// Packages belong to a shipping group; groups are kept in order of first use, packages in order
// of creation. Tarball indices follow processing order across groups.
//
// Errors writing a tarball are sticky: after one, every Add and Finish returns it; staged files
// of packages not yet processed are left to the caller, who owns the staging directory. A Packer
// is not safe for concurrent use.
type Packer struct {
	opts    Options
	checked bool
	err     error // sticky

	groups []*group
	byName map[string]*group
	next   int // next tarball index to try

	gz  *gzip.Writer // reused across tarballs
	buf []byte       // copy buffer
}

type group struct {
	name string
	pkgs []*pkg
}

// pkg is one package: the collections of one future tarball.
type pkg struct {
	group     string
	colls     []Collection
	size      int64
	keys      map[string]bool
	processed bool
}

// NewPacker returns a Packer with the given options. The options are checked on the first Add or
// Finish, which return any problem with them.
func NewPacker(opts Options) *Packer {
	if opts.Base == "" {
		opts.Base = DefaultBase
	}
	if opts.MaxDataSize == 0 {
		opts.MaxDataSize = DefaultMaxDataSize
	}
	if opts.Level == 0 {
		opts.Level = DefaultLevel
	}
	if opts.Config != nil {
		cfg := *opts.Config // the caller may reuse its value
		opts.Config = &cfg
	}
	return &Packer{opts: opts, byName: map[string]*group{}}
}

// ready checks the options once; a problem is sticky.
func (p *Packer) ready() error {
	if p.err != nil || p.checked {
		return p.err
	}
	p.checked = true
	var errs []error
	o := &p.opts
	if o.Dir == "" {
		errs = append(errs, errors.New("output directory is not set"))
	} else if fi, err := os.Stat(o.Dir); err != nil {
		errs = append(errs, fmt.Errorf("output directory: %w", err))
	} else if !fi.IsDir() {
		errs = append(errs, fmt.Errorf("output directory %s is not a directory", o.Dir))
	}
	if strings.ContainsAny(o.Base, "/\\\x00") {
		errs = append(errs, fmt.Errorf("tarball name base %q contains a path separator or NUL", o.Base))
	}
	if o.Until.IsZero() {
		errs = append(errs, errors.New("until is not set"))
	}
	if o.MaxDataSize < 0 {
		errs = append(errs, fmt.Errorf("max data size %d is negative", o.MaxDataSize))
	}
	gz, err := gzip.NewWriterLevel(nil, o.Level)
	if err != nil {
		errs = append(errs, fmt.Errorf("gzip level %d: %w", o.Level, err))
	}
	p.gz = gz
	if err := errors.Join(errs...); err != nil {
		p.err = fmt.Errorf("packaging: options: %w", err)
	}
	return p.err
}

// Add places c with upstream's package finder (3.6): in c's group, the first package not yet
// processed that has room (its data size + c.Size <= MaxDataSize) and does not already hold
// c.Key; otherwise a new package appended to the group. A new package takes c without a size
// check, so an over-sized file goes out alone.
//
// A failed JSON collection is placed like the others, with size 0: it has no member and is not in
// the manifest, but appears in data_collection_status.csv as "failed" and occupies its key in that
// package. Callers do not pass failed or empty CSV collections (upstream skips them: they appear
// nowhere); if they do, Add does nothing and the caller keeps any staged file.
//
// If c.Sliced, the package c landed in is processed immediately and its tarball returned.
// Whatever the error, the returned tarballs exist in [Options.Dir]. An invalid c is rejected
// without changing the Packer; a failure to write a tarball is sticky.
func (p *Packer) Add(c Collection) ([]*Tarball, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Format == FormatCSV && (c.Failed || c.Path == "") {
		return nil, nil
	}
	if c.Failed {
		c.Size = 0
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	pk := p.find(c.Group, c.Key, c.Size)
	pk.colls = append(pk.colls, c)
	pk.size += c.Size
	pk.keys[c.Key] = true
	if !c.Sliced {
		return nil, nil
	}
	tb, err := p.process(pk)
	if tb == nil {
		return nil, err
	}
	return []*Tarball{tb}, err
}

// find is upstream's _find_available_package.
func (p *Packer) find(groupName, key string, size int64) *pkg {
	g := p.byName[groupName]
	if g == nil {
		g = &group{name: groupName}
		p.byName[groupName] = g
		p.groups = append(p.groups, g)
	}
	for _, pk := range g.pkgs {
		if !pk.processed && pk.size+size <= p.opts.MaxDataSize && !pk.keys[key] {
			return pk
		}
	}
	pk := &pkg{group: groupName, keys: map[string]bool{}}
	g.pkgs = append(g.pkgs, pk)
	return pk
}

// Finish processes every package not yet processed: groups in order of first use, packages in
// order of creation. It returns the tarballs written, in processing order; whatever the error,
// the returned tarballs exist in [Options.Dir]. Finish may be called again after more Adds.
func (p *Packer) Finish() ([]*Tarball, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	var out []*Tarball
	var errs []error
	for _, g := range p.groups {
		for _, pk := range g.pkgs {
			if pk.processed {
				continue
			}
			tb, err := p.process(pk)
			if tb != nil {
				out = append(out, tb)
			}
			if err != nil {
				errs = append(errs, err)
				if p.err != nil {
					return out, errors.Join(errs...)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}
