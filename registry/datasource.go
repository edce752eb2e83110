package registry

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

var (
	dataSourceNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	envNamePattern        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// grant is a `datasources` list, checked against the declared data sources once all are read.
type grant struct {
	src   *source
	p     path
	names []string
}

// dataSources decodes the root file's [datasources.NAME] tables.
func (l *loader) dataSources(src *source, prim toml.Primitive) map[string]*DataSource {
	out := map[string]*DataSource{}
	p := path{}.key("datasources")
	var tables map[string]toml.Primitive
	if !l.decode(src, p, prim, &tables, "a table of data sources, such as [datasources.awx]") {
		return out
	}
	base := filepath.Dir(src.abs)
	for _, name := range sortedKeys(tables, src, p) {
		dp := p.key(name)
		if !dataSourceNamePattern.MatchString(name) {
			l.add(src, dp, CodeInvalid, `invalid data source name %q: use 1 to 64 letters, digits, "_", "." or "-"`, name)
			continue
		}
		var t dataSourceTable
		if !l.decode(src, dp, tables[name], &t, "a table") {
			continue
		}
		ds := &DataSource{Name: name, MaxRows: defaultDSMaxRows, MaxBytes: defaultDSMaxBytes, Timeout: defaultDSTimeout}
		l.refuseSecret(src, dp.key("password"), t.Password)
		driver, ok := l.required(src, dp.key("driver"), t.Driver)
		switch {
		case !ok:
		case driver != "sqlite" && driver != "postgres":
			l.add(src, dp.key("driver"), CodeInvalid, `invalid driver %q: must be "sqlite" or "postgres"`, driver)
		default:
			ds.Driver = driver
		}
		ds.Path = l.hostPath(src, dp.key("path"), base, t.Path)
		ds.DSN, _ = l.str(src, dp.key("dsn"), t.DSN)
		ds.DSNEnv, _ = l.str(src, dp.key("dsn_env"), t.DSNEnv)
		ds.DSNFile = l.hostPath(src, dp.key("dsn_file"), base, t.DSNFile)
		ds.PasswordEnv, _ = l.str(src, dp.key("password_env"), t.PasswordEnv)
		ds.PasswordFile = l.hostPath(src, dp.key("password_file"), base, t.PasswordFile)
		if n, ok := l.integer(src, dp.key("max_rows"), t.MaxRows); ok {
			if n < 1 {
				l.add(src, dp.key("max_rows"), CodeInvalid, "max_rows %d must be at least 1", n)
			} else {
				ds.MaxRows = n
			}
		}
		if n, ok := l.size(src, dp.key("max_bytes"), t.MaxBytes); ok {
			if n < 1 {
				l.add(src, dp.key("max_bytes"), CodeInvalid, "max_bytes must be more than 0")
			} else {
				ds.MaxBytes = n
			}
		}
		if d, ok := l.timeout(src, dp.key("timeout"), t.Timeout); ok {
			ds.Timeout = d
		}
		ds.AllowPrivilegedRole, _ = l.boolean(src, dp.key("allow_privileged_role"), t.AllowPrivilegedRole)
		if s, ok := l.str(src, dp.key("timestamp_format"), t.TimestampFormat); ok {
			switch {
			case !slices.Contains(TimestampFormats, s):
				l.add(src, dp.key("timestamp_format"), CodeInvalid, "invalid timestamp_format %q: must be one of %s", s, strings.Join(TimestampFormats, ", "))
			case ds.Driver == "postgres":
				l.add(src, dp.key("timestamp_format"), CodeNotAllowed, "not used by a postgres data source (@since and @until are bound as timestamptz)")
			default:
				ds.TimestampFormat = s
			}
		}
		switch ds.Driver {
		case "sqlite":
			if ds.Path == "" {
				l.add(src, dp.key("path"), CodeMissing, "a sqlite data source needs path (the database file)")
			}
			for key, v := range map[string]string{"dsn": ds.DSN, "dsn_env": ds.DSNEnv, "dsn_file": ds.DSNFile, "password_env": ds.PasswordEnv, "password_file": ds.PasswordFile} {
				if v != "" {
					l.add(src, dp.key(key), CodeNotAllowed, "not used by a sqlite data source")
				}
			}
			if ds.AllowPrivilegedRole {
				l.add(src, dp.key("allow_privileged_role"), CodeNotAllowed, "not used by a sqlite data source")
			}
		case "postgres":
			l.checkDSN(src, dp, "a postgres data source", ds.DSN, ds.DSNEnv, ds.DSNFile)
			if ds.PasswordEnv != "" && ds.PasswordFile != "" {
				l.add(src, dp.key("password_env"), CodeInvalid, "set password_env or password_file, not both")
			}
			if ds.Path != "" {
				l.add(src, dp.key("path"), CodeNotAllowed, "not used by a postgres data source")
			}
		}
		out[name] = ds
	}
	return out
}

// names accepts an array of strings, each once.
func (l *loader) names(src *source, p path, v any) ([]string, bool) {
	if v == nil {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		l.add(src, p, CodeWrongType, "must be an array of strings, not %s", tomlType(v))
		return nil, false
	}
	out := []string{}
	seen := map[string]bool{}
	for _, e := range arr {
		s, ok := e.(string)
		switch {
		case !ok:
			l.add(src, p, CodeWrongType, "must be an array of strings; found %s", tomlType(e))
			return nil, false
		case seen[s]:
			l.add(src, p, CodeDuplicate, "%q is listed twice", s)
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, true
}

// mounts decodes a module's `mounts` table: guest path → host directory.
func (l *loader) mounts(src *source, p path, prim toml.Primitive) []Mount {
	var table map[string]any
	if !l.decode(src, p, prim, &table, `a table of guest path = "host directory"`) || table == nil {
		return nil
	}
	base := filepath.Dir(src.abs)
	out := []Mount{}
	for _, guest := range sortedKeys(table, src, p) {
		host, ok := table[guest].(string)
		mp := p.key(guest)
		switch {
		case !ok:
			l.add(src, mp, CodeWrongType, "must be a string (the host directory), not %s", tomlType(table[guest]))
			continue
		case !strings.HasPrefix(guest, "/") || strings.Contains(guest, ".."):
			l.add(src, mp, CodeInvalid, "guest path %q must be absolute, without ..", guest)
			continue
		}
		host = absDir(base, host)
		if st, err := os.Stat(host); err != nil || !st.IsDir() {
			l.add(src, mp, CodeNotFound, "host directory %s does not exist or is not a directory", host)
			continue
		}
		out = append(out, Mount{Guest: filepath.Clean(guest), Host: host})
	}
	return out
}

// finishGrants checks every grant against the declared data sources and gives each collector its
// module's grants too.
func (l *loader) finishGrants() {
	declared := make([]string, 0, len(l.reg.DataSources))
	for name := range l.reg.DataSources {
		declared = append(declared, name)
	}
	slices.Sort(declared)
	for _, g := range l.grants {
		for _, n := range g.names {
			if l.alone {
				// No root file declares data sources: the product will. The name must still be one.
				if !dataSourceNamePattern.MatchString(n) {
					l.add(g.src, g.p, CodeInvalid, `invalid data source name %q: use 1 to 64 letters, digits, "_", "." or "-"`, n)
				}
				continue
			}
			if _, ok := l.reg.DataSources[n]; !ok {
				known := "none is declared"
				if len(declared) > 0 {
					known = "declared: " + strings.Join(declared, ", ")
				}
				l.add(g.src, g.p, CodeUndeclared, "unknown data source %q (%s)", n, known)
			}
		}
	}
	for _, c := range l.reg.Collectors {
		if c.Module == nil {
			continue
		}
		for _, n := range c.Module.DataSources {
			if !slices.Contains(c.DataSources, n) {
				c.DataSources = append(c.DataSources, n)
			}
		}
	}
}

// stateSettings decodes [state].
func (l *loader) stateSettings(src *source, prim toml.Primitive) StateSettings {
	st := defaultState()
	p := path{}.key("state")
	var t stateTable
	if !l.decode(src, p, prim, &t, "a table") {
		return st
	}
	base := filepath.Dir(src.abs)
	l.refuseSecret(src, p.key("password"), t.Password)
	if s, ok := l.str(src, p.key("driver"), t.Driver); ok {
		if s == "file" || s == "postgres" {
			st.Driver = s
		} else {
			l.add(src, p.key("driver"), CodeInvalid, `invalid driver %q: must be "file" or "postgres"`, s)
		}
	}
	st.DSN, _ = l.str(src, p.key("dsn"), t.DSN)
	st.DSNEnv, _ = l.str(src, p.key("dsn_env"), t.DSNEnv)
	st.DSNFile = l.hostPath(src, p.key("dsn_file"), base, t.DSNFile)
	st.PasswordEnv, _ = l.str(src, p.key("password_env"), t.PasswordEnv)
	st.PasswordFile = l.hostPath(src, p.key("password_file"), base, t.PasswordFile)
	if s, _ := l.str(src, p.key("lock_name"), t.LockName); s != "" {
		st.LockName = s
	}
	if st.Driver == "postgres" {
		l.checkDSN(src, p, "a postgres state", st.DSN, st.DSNEnv, st.DSNFile)
	}
	return st
}

// hostPath accepts a string naming a host file, resolved against base; "" when absent or empty.
func (l *loader) hostPath(src *source, p path, base string, v any) string {
	if s, _ := l.str(src, p, v); s != "" {
		return absDir(base, s)
	}
	return ""
}

// refuseSecret reports a password written in the TOML (the `password` key at p).
func (l *loader) refuseSecret(src *source, p path, v any) {
	if v != nil {
		l.add(src, p, CodeSecret, "secrets never sit in the TOML: name the environment variable (password_env) or the file (password_file) that holds it")
	}
}

// checkDSN checks the PostgreSQL connection of the table at p (what names it in messages): one
// of dsn, dsn_env and dsn_file, and no password in the dsn.
func (l *loader) checkDSN(src *source, p path, what, dsn, dsnEnv, dsnFile string) {
	set := 0
	for _, v := range []string{dsn, dsnEnv, dsnFile} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		l.add(src, p.key("dsn"), CodeMissing, "%s needs exactly one of dsn, dsn_env and dsn_file", what)
	}
	if strings.Contains(strings.ToLower(dsn), "password") {
		l.add(src, p.key("dsn"), CodeSecret, "secrets never sit in the TOML: take the password out of the dsn and name password_env or password_file")
	}
}
