package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
	"github.com/wasmcollector/wasmcollector/shipping"
)

// Bounds the schema puts on values; sample.toml explains them to users.
const (
	wasmPage         = 64 << 10
	minMemoryLimit   = 1 << 20
	maxMemoryLimit   = 4 << 30
	maxTimeout       = 24 * time.Hour
	minSliceInterval = time.Minute
	maxSliceInterval = 28 * 24 * time.Hour
	minMaxDataSize   = 1 << 10
	maxMaxWindow     = 3650 * day
	// A sidecar is a few collectors; even a generous one is far below 1 MiB. The cap is checked
	// before reading, so a huge file costs nothing (RATIONALE.md "Why does only the operator
	// grant?" covers why vendors' files are held to caps).
	minMaxSidecarSize = 1 << 10
	maxMaxSidecarSize = 64 << 20
)

var (
	// A key becomes a file name in tarballs (./<key>.<format>), hence the strict syntax.
	keyPattern           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	shippingGroupPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	headerNamePattern    = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	sha256Pattern        = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	// The base starts tarball file names, <base>-<until>-<index>.tar.gz.
	tarballBasePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// runtime decodes [runtime] and applies its defaults.
func (l *loader) runtime(src *source, x *table[runtimeTable]) Runtime {
	rt := defaultRuntime()
	p := path{}.key("runtime")
	x.ok(l, src, p, "a table")
	t := &x.t
	base := filepath.Dir(src.abs)

	dir, dirSet := defaultModulesDir, false
	if s, ok := get(l, src, p.key("modules_dir"), t.ModulesDir); ok {
		if s == "" {
			l.add(src, p.key("modules_dir"), CodeInvalid, "must not be empty (the default is %q)", defaultModulesDir)
		} else {
			dir, dirSet = s, true
		}
	}
	rt.ModulesDir = filepath.Clean(dir)
	l.modulesShow = rt.ModulesDir
	if !filepath.IsAbs(dir) {
		rt.ModulesDir = filepath.Join(base, dir)
		l.modulesShow = filepath.Join(filepath.Dir(src.display), dir)
	}
	switch info, err := os.Stat(rt.ModulesDir); {
	case errors.Is(err, fs.ErrNotExist):
		l.add(src, p.key("modules_dir"), CodeNotFound, "modules directory %s does not exist%s", l.modulesShow, defaultNote(dirSet))
	case err != nil:
		l.add(src, p.key("modules_dir"), CodeUnreadable, "modules directory %s: %v", l.modulesShow, unwrapPath(err))
	case !info.IsDir():
		l.add(src, p.key("modules_dir"), CodeInvalid, "modules directory %s is not a directory", l.modulesShow)
	default:
		l.modulesOK = true
	}

	if s, ok := get(l, src, p.key("cache_dir"), t.CacheDir); ok && s != "" {
		rt.CacheDir = filepath.Clean(s)
		if !filepath.IsAbs(s) {
			rt.CacheDir = filepath.Join(base, s)
		}
	}
	if n, ok := l.memoryLimit(src, p.key("memory_limit"), t.MemoryLimit); ok {
		rt.MemoryLimit = n
	}
	if d, ok := l.dur(src, p.key("timeout"), t.Timeout); ok {
		rt.Timeout = d
	}
	if s, ok := get(l, src, p.key("isolation"), t.Isolation); ok {
		switch s {
		case IsolationProcess, IsolationInProcess:
			rt.Isolation = s
		default:
			l.add(src, p.key("isolation"), CodeInvalid, "unknown isolation %q: want %q (a worker process per invocation, the default) or %q",
				s, IsolationProcess, IsolationInProcess)
		}
	}
	if n, ok := get(l, src, p.key("workers"), t.Workers); ok {
		if n < 0 || n > 256 {
			l.add(src, p.key("workers"), CodeInvalid, "workers %d must be from 0 (one per CPU) to 256", n)
		} else {
			rt.Workers = int(n)
		}
	}
	if d, ok := l.dur(src, p.key("compile_timeout"), t.CompileTimeout); ok {
		rt.CompileTimeout = d
	}
	if n, ok := l.size(src, p.key("cache_max_size"), t.CacheMaxSize); ok {
		rt.CacheMaxSize = n
	}
	if n, ok := l.size(src, p.key("max_sidecar_size"), t.MaxSidecarSize); ok {
		if n < minMaxSidecarSize || n > maxMaxSidecarSize {
			l.add(src, p.key("max_sidecar_size"), CodeInvalid, "max_sidecar_size %s is out of range: must be from %s to %s", bytesize.Format(n), bytesize.Format(minMaxSidecarSize), bytesize.Format(maxMaxSidecarSize))
		} else {
			rt.MaxSidecarSize = n
		}
	}
	return rt
}

func defaultNote(set bool) string {
	if set {
		return ""
	}
	return fmt.Sprintf(" (modules_dir defaults to %q)", defaultModulesDir)
}

// limits decodes a limits table at p, overriding base field by field.
func (l *loader) limits(src *source, p path, x *table[limitsTable], base Limits) Limits {
	if !x.ok(l, src, p, "a table") {
		return base
	}
	t := &x.t
	for _, f := range []struct {
		key string
		v   value[Size]
		dst *int64
	}{
		{"max_json_bytes", t.MaxJSONBytes, &base.MaxJSONBytes},
		{"max_batch_bytes", t.MaxBatchBytes, &base.MaxBatchBytes},
		{"max_output_bytes", t.MaxOutputBytes, &base.MaxOutputBytes},
		{"max_log_bytes", t.MaxLogBytes, &base.MaxLogBytes},
		{"max_stdio_bytes", t.MaxStdioBytes, &base.MaxStdioBytes},
	} {
		fp := p.key(f.key)
		n, ok := l.size(src, fp, f.v)
		if !ok {
			continue
		}
		if n <= 0 {
			l.add(src, fp, CodeInvalid, "must be more than 0 bytes")
			continue
		}
		*f.dst = n
	}
	return base
}

// gather decodes [gather] and applies its defaults.
func (l *loader) gather(src *source, x *table[gatherTable]) GatherSettings {
	base := filepath.Dir(src.abs)
	g := defaultGather(base)
	p := path{}.key("gather")
	if !x.ok(l, src, p, "a table") {
		return g
	}
	t := &x.t
	if n, ok := l.size(src, p.key("max_data_size"), t.MaxDataSize); ok {
		if n < minMaxDataSize {
			l.add(src, p.key("max_data_size"), CodeInvalid, "max_data_size %s is too small: must be at least %s", bytesize.Format(n), bytesize.Format(minMaxDataSize))
		} else {
			g.MaxDataSize = n
		}
	}
	if window, ok := get(l, src, p.key("max_window"), t.MaxWindow); ok {
		s, d := t.MaxWindow.raw, time.Duration(window)
		switch {
		case d <= 0:
			l.add(src, p.key("max_window"), CodeInvalid, "max_window %q must be more than 0", s)
		case d > maxMaxWindow:
			l.add(src, p.key("max_window"), CodeInvalid, "max_window %q must be at most %dd", s, maxMaxWindow/day)
		default:
			g.MaxWindow = d
		}
	}
	if s, ok := get(l, src, p.key("tarball_base"), t.TarballBase); ok {
		if tarballBasePattern.MatchString(s) {
			g.TarballBase = s
		} else {
			l.add(src, p.key("tarball_base"), CodeInvalid, `invalid tarball_base %q: use 1 to 64 letters, digits, "_", "." or "-"`, s)
		}
	}
	if s, ok := get(l, src, p.key("out_dir"), t.OutDir); ok {
		if s == "" {
			l.add(src, p.key("out_dir"), CodeInvalid, "must not be empty (the default is %q)", defaultOutDir)
		} else {
			g.OutDir = absDir(base, s)
		}
	}
	if s, ok := get(l, src, p.key("state_dir"), t.StateDir); ok && s != "" {
		g.StateDir = absDir(base, s)
	}
	if s, ok := get(l, src, p.key("status_file"), t.StatusFile); ok && s != "" {
		g.StatusFile = absDir(base, s)
	}
	return g
}

// license decodes [license].
func (l *loader) license(src *source, x *table[licenseTable]) LicenseSettings {
	var lic LicenseSettings
	p := path{}.key("license")
	if !x.ok(l, src, p, "a table") {
		return lic
	}
	t := &x.t
	required, _ := get(l, src, p.key("required"), t.Required)
	file, fileOK := get(l, src, p.key("file"), t.File)
	if fileOK && file != "" {
		lic.File = absDir(filepath.Dir(src.abs), file)
	}
	// A file of the wrong type was reported already.
	if required && lic.File == "" && (!t.File.set || fileOK) {
		l.add(src, p.key("file"), CodeMissing, "required when license.required = true: the license file a gather checks")
	}
	lic.Required = required
	return lic
}

// orList quotes values as a message lists alternatives: "a", "b" or "c".
func orList[T ~string](values []T) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(string(v))
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// shipping decodes [shipping] and applies its defaults. Whether files exist and parse is checked
// when a gather builds its uploader, which names the file.
func (l *loader) shipping(src *source, x *table[shippingTable]) ShippingSettings {
	sh := defaultShipping()
	p := path{}.key("shipping")
	if !x.ok(l, src, p, "a table") {
		return sh
	}
	t := &x.t
	base := filepath.Dir(src.abs)
	if s, ok := get(l, src, p.key("url"), t.URL); ok && s != "" {
		if msg := checkURL(s); msg != "" {
			l.add(src, p.key("url"), CodeInvalid, "invalid url %q: %s", s, msg)
		} else {
			sh.URL = s
		}
	}
	l.refuseSecret(src, p.key("password"), t.Password)
	if s, ok := get(l, src, p.key("content_type"), t.ContentType); ok {
		if s == "" || strings.ContainsAny(s, "\r\n") {
			l.add(src, p.key("content_type"), CodeInvalid, "invalid content_type %q", s)
		} else {
			sh.ContentType = s
		}
	} else if !t.ContentType.set && sh.URL != "" {
		// The ingress routes uploads by the content type's service and refuses (415) a service it
		// is not configured for; no default fits every product (RATIONALE.md).
		l.reg.Warnings = append(l.reg.Warnings, &Problem{Code: CodeMissing, File: src.display, Line: src.loc.line(p),
			Field: "shipping.content_type", Message: fmt.Sprintf(
				"not set: uploads go as %s, which an ingress takes only when configured for service %q (console.redhat.com is not); set content_type to the type the ingress routes for this product (AWX's is application/vnd.redhat.tower.tower_payload+tgz)",
				defaultContentType, "wasmcollector")})
	}
	authOK := true
	if s, ok := get(l, src, p.key("auth"), t.Auth); ok {
		if slices.Contains(shipping.AuthModes(), shipping.Auth(s)) {
			sh.Auth = s
		} else {
			authOK = false
			l.add(src, p.key("auth"), CodeInvalid, "invalid auth %q: must be %s", s, orList(shipping.AuthModes()))
		}
	}
	sh.Username, _ = get(l, src, p.key("username"), t.Username)
	sh.UsernameEnv, _ = get(l, src, p.key("username_env"), t.UsernameEnv)
	sh.PasswordEnv, _ = get(l, src, p.key("password_env"), t.PasswordEnv)
	for _, f := range []struct {
		key string
		v   value[string]
		dst *string
	}{
		{"password_file", t.PasswordFile, &sh.PasswordFile}, {"identity_file", t.IdentityFile, &sh.IdentityFile},
		{"client_cert", t.ClientCert, &sh.ClientCert}, {"client_key", t.ClientKey, &sh.ClientKey},
		{"ca_bundle", t.CABundle, &sh.CABundle},
	} {
		if s, ok := get(l, src, p.key(f.key), f.v); ok && s != "" {
			*f.dst = absDir(base, s)
		}
	}
	sh.InsecureSkipVerify, _ = get(l, src, p.key("insecure_skip_verify"), t.InsecureSkipVerify)
	if d, ok := l.dur(src, p.key("connect_timeout"), t.ConnectTimeout); ok {
		sh.ConnectTimeout = d
	}
	if d, ok := l.dur(src, p.key("timeout"), t.Timeout); ok {
		sh.Timeout = d
	}
	if n, ok := get(l, src, p.key("max_attempts"), t.MaxAttempts); ok {
		if n < 1 || n > 100 {
			l.add(src, p.key("max_attempts"), CodeInvalid, "max_attempts %d must be from 1 to 100", n)
		} else {
			sh.MaxAttempts = int(n)
		}
	}
	if d, ok := l.dur(src, p.key("retry_backoff"), t.RetryBackoff); ok {
		sh.RetryBackoff = d
	}
	if n, ok := get(l, src, p.key("failed_keep"), t.FailedKeep); ok {
		if n < 0 || n > 100000 {
			l.add(src, p.key("failed_keep"), CodeInvalid, "failed_keep %d must be from 0 to 100000", n)
		} else {
			sh.FailedKeep = int(n)
		}
	}
	if t.Headers.ok(l, src, p.key("headers"), "a table of strings") {
		for name, v := range t.Headers.t {
			s, ok := v.(string)
			switch {
			case !ok:
				l.add(src, p.key("headers").key(name), CodeWrongType, "must be a string, not %s", tomlType(v))
			case !headerNamePattern.MatchString(name) || strings.ContainsAny(s, "\r\n"):
				l.add(src, p.key("headers").key(name), CodeInvalid, "invalid header %q", name)
			default:
				sh.Headers[name] = s
			}
		}
	}
	if sh.URL == "" || !authOK {
		return sh
	}
	// What each auth mode needs, once there is somewhere to ship.
	switch sh.Auth {
	case string(shipping.AuthUserPass):
		if sh.Username == "" && sh.UsernameEnv == "" {
			l.add(src, p.key("username"), CodeMissing, "user-pass needs a username (username or username_env)")
		}
		if (sh.PasswordEnv == "") == (sh.PasswordFile == "") {
			l.add(src, p.key("password_env"), CodeMissing, "user-pass needs exactly one of password_env and password_file")
		}
	case string(shipping.AuthMutualTLS):
		if sh.ClientCert == "" {
			l.add(src, p.key("client_cert"), CodeMissing, "mutual-tls needs client_cert")
		}
		if sh.ClientKey == "" {
			l.add(src, p.key("client_key"), CodeMissing, "mutual-tls needs client_key")
		}
	}
	return sh
}

// checkURL returns what is wrong with an ingress URL, or "".
func checkURL(s string) string {
	u, err := url.Parse(s)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return ue.Err.Error()
	case err != nil:
		return err.Error()
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with http:// or https://"
	case u.Host == "":
		return "no host"
	}
	return ""
}

// absDir resolves a path from the TOML, relative to base, the root file's directory.
func absDir(base, s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(base, s)
}

// collector validates one [[collector]] at p of src and applies its defaults. For a sidecar,
// module is the sidecar's module name.
func (l *loader) collector(src *source, p path, t *collectorTable, module string) *Collector {
	c := &Collector{
		Format:        FormatJSON,
		ShippingGroup: defaultShippingGroup,
		Limits:        l.reg.Limits,
		Timeout:       l.reg.Runtime.Timeout,
		Source:        Position{File: src.display, Line: src.loc.line(p), Field: p.String()},
	}
	if s, ok := l.required(src, p.key("key"), t.Key); ok {
		c.Key = s
		switch {
		case !keyPattern.MatchString(s):
			l.add(src, p.key("key"), CodeInvalid, `invalid key %q: use 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`, s)
		case strings.Contains(s, ".."):
			l.add(src, p.key("key"), CodeInvalid, `invalid key %q: must not contain ".."`, s)
		}
	}
	if s, ok := l.required(src, p.key("version"), t.Version); ok {
		c.Version = s
	}
	if s, ok := get(l, src, p.key("description"), t.Description); ok {
		c.Description = s
	}
	if f, ok := get(l, src, p.key("format"), t.Format); ok {
		c.Format = f
	}
	if b, ok := get(l, src, p.key("config"), t.Config); ok {
		c.Config = b
	}
	// A slicing of the wrong type leaves the collector unsliced; only an invalid string leaves
	// whether it is sliced unknown.
	s, slicingOK := get(l, src, p.key("slicing"), t.Slicing)
	c.Slicing, slicingOK = s, slicingOK || t.Slicing.code != CodeInvalid
	if s, ok := get(l, src, p.key("shipping_group"), t.ShippingGroup); ok {
		if shippingGroupPattern.MatchString(s) {
			c.ShippingGroup = s
		} else {
			l.add(src, p.key("shipping_group"), CodeInvalid, `invalid shipping_group %q: use 1 to 64 letters, digits, "_", "." or "-"`, s)
		}
	}
	if n, ok := get(l, src, p.key("full_sync_interval_days"), t.FullSyncIntervalDays); ok {
		switch {
		case n < 1 || n > 36500:
			l.add(src, p.key("full_sync_interval_days"), CodeInvalid, "must be a number of days from 1 to 36500, not %d", n)
		case slicingOK && c.Slicing.Kind == SliceNone:
			l.add(src, p.key("full_sync_interval_days"), CodeNotAllowed, "only allowed on a sliced collector (slicing is \"none\")")
		default:
			c.FullSyncIntervalDays = int(n)
		}
	}
	c.Module = l.moduleRef(src, p, t.Module, module)
	c.Function = c.Key
	fp := p.key("key")
	if s, ok := get(l, src, p.key("function"), t.Function); ok {
		if s == "" {
			l.add(src, p.key("function"), CodeInvalid, "must not be empty (omit it to call the export named like the key)")
		} else {
			c.Function, fp = s, p.key("function")
		}
	}
	c.FunctionSource = Position{File: src.display, Line: src.loc.line(fp), Field: fp.String()}
	if d, ok := l.dur(src, p.key("timeout"), t.Timeout); ok {
		c.Timeout = d
		l.timeoutSet[c] = true
	}
	if s, ok := get(l, src, p.key("time_column"), t.TimeColumn); ok {
		switch {
		case s == "":
			l.add(src, p.key("time_column"), CodeInvalid, "must not be empty (omit it for no slice guard)")
		case c.Format != FormatCSV || c.Config:
			l.add(src, p.key("time_column"), CodeNotAllowed, "the slice guard checks CSV rows: only allowed on a CSV collector")
		default:
			c.TimeColumn, c.TimeGuard = s, TimeGuardFail
		}
	}
	if s, ok := get(l, src, p.key("time_guard"), t.TimeGuard); ok {
		switch {
		case s != TimeGuardFail && s != TimeGuardWarn:
			l.add(src, p.key("time_guard"), CodeInvalid, `invalid time_guard %q: must be "fail" or "warn"`, s)
		case c.TimeColumn == "":
			l.add(src, p.key("time_guard"), CodeNotAllowed, "needs time_column (the column the guard checks)")
		default:
			c.TimeGuard = s
		}
	}
	c.Params = map[string]any{}
	if t.Params.ok(l, src, p.key("params"), "a table") && t.Params.t != nil {
		c.Params = t.Params.t
	}
	c.Limits = l.limits(src, p.key("limits"), &t.Limits, l.reg.Limits)
	if names, ok := l.names(src, p.key("datasources"), t.DataSources); ok {
		c.DataSources = names
		l.grants = append(l.grants, grant{src: src, p: p.key("datasources"), names: names})
	}

	if c.Config {
		if c.Format != FormatJSON {
			l.add(src, p.key("format"), CodeNotAllowed, `the config collector must use format "json"`)
		}
		if c.Slicing.Kind != SliceNone {
			l.add(src, p.key("slicing"), CodeNotAllowed, "the config collector must not be sliced")
		}
	}
	return c
}

// parseSlicing parses a collector's `slicing`, returning a message when it is invalid.
func parseSlicing(s string) (Slicing, string) {
	switch s {
	case "", "none":
		return Slicing{}, ""
	case "daily":
		return Slicing{Kind: SliceDaily, text: s}, ""
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return Slicing{}, fmt.Sprintf(`invalid slicing %q: use "none", "daily" or a duration such as "4h"`, s)
	case d < minSliceInterval:
		return Slicing{}, fmt.Sprintf("invalid slicing %q: a slice must be at least %v", s, minSliceInterval)
	case d > maxSliceInterval:
		return Slicing{}, fmt.Sprintf("invalid slicing %q: a slice must be at most %v (28 days)", s, maxSliceInterval)
	}
	return Slicing{Kind: SliceFixed, Interval: d, text: s}, ""
}

// checkConfig checks that exactly one collector in the registry has config = true.
func (l *loader) checkConfig() {
	var first *entry
	for i := range l.entries {
		e := &l.entries[i]
		if !e.c.Config {
			continue
		}
		if first == nil {
			first = e
			continue
		}
		l.add(e.src, e.p.key("config"), CodeDuplicate, "a second config collector; the first is %q at %s:%d", first.c.Key, first.c.Source.File, first.c.Source.Line)
	}
	if first == nil {
		l.noConfig = &Problem{
			Code:    CodeNoConfig,
			File:    l.root.display,
			Field:   "collector",
			Message: "no config collector: exactly one collector must set config = true",
		}
		l.problems = append(l.problems, l.noConfig)
	}
}

// checkDuplicates reports collectors reusing a key, unless every collector with that key is
// sliced. A key a sidecar declares for its module and anything else declares for another module
// is a problem whatever the slicing: two vendors who picked the same name would share its
// bookkeeping (the key's progress) and, unsliced, its tarball member. It is reported on the later
// declaration, so that a sidecar, loaded after the root file, never takes a key from the
// operator's collectors. The root file alone may share a sliced key between modules: that is the
// operator's own choice.
func (l *loader) checkDuplicates() {
	groups := map[string][]*entry{}
	for i := range l.entries {
		e := &l.entries[i]
		if e.c.Key != "" {
			groups[e.c.Key] = append(groups[e.c.Key], e)
		}
	}
	for i := range l.entries {
		e := &l.entries[i]
		g := groups[e.c.Key]
		if len(g) < 2 || g[0] == e {
			continue
		}
		if o := otherModule(g, e); o != nil {
			l.add(e.src, e.p.key("key"), CodeKeyConflict, "key %q is also declared by module %s at %s:%d; collectors of two modules must not share a key (both would write ./%s.%s)",
				e.c.Key, o.c.Module.Name, o.c.Source.File, o.c.Source.Line, e.c.Key, e.c.Format)
			continue
		}
		allSliced := true
		for _, o := range g {
			allSliced = allSliced && o.c.Slicing.Kind != SliceNone
		}
		if !allSliced {
			l.add(e.src, e.p.key("key"), CodeDuplicate, "duplicate key %q, first declared at %s:%d; a key may repeat only if every collector with it is sliced", e.c.Key, g[0].c.Source.File, g[0].c.Source.Line)
		}
	}
}

// otherModule returns the first entry of g, before e, whose collector is of another module than
// e's, either of them declared in a sidecar; nil when there is none (or a module is unknown: its
// problem was reported).
func otherModule(g []*entry, e *entry) *entry {
	if e.c.Module == nil {
		return nil
	}
	for _, o := range g {
		if o == e {
			return nil
		}
		if o.c.Module != nil && o.c.Module.Name != e.c.Module.Name && (o.src.sidecar || e.src.sidecar) {
			return o
		}
	}
	return nil
}
