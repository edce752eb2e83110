package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// The operator grants, the vendor asks (design.md; RATIONALE.md "Why does only the operator
// grant?"). A module's mounts, env, data sources, memory limit and timeout come from the root
// file's [modules."NAME"] table and [runtime] only. A sidecar's [module] table and its
// collectors' datasources, timeouts and limits are requests: each must be covered by a grant,
// and a limit may only be lowered. A request that is not covered is a problem in the sidecar,
// which disables the module (see disable), and its message shows the lines that would grant it.

// dsRequest is a sidecar's `datasources` list, where it was written.
type dsRequest struct {
	src   *source
	p     path
	who   string // "module" or "collector"
	names []string
}

// checkRequests holds every sidecar's requests against the operator's grants, records them in
// each Module's Requested, lowers the module's limits where a sidecar asks for less, and gives
// each collector without its own timeout its module's.
func (l *loader) checkRequests() {
	operatorTimeout := map[*Module]time.Duration{}
	for _, st := range l.order {
		m := st.mod
		operatorTimeout[m] = m.Timeout
		s := st.side
		if s == nil {
			continue
		}
		req := &m.Requested
		req.Mounts, req.Env = s.mounts, s.env
		if s.memSet {
			req.MemoryLimit = s.mem
			if s.mem > m.MemoryLimit {
				l.add(s.src, s.p.key("memory_limit"), CodeNotGranted, "the module requests memory_limit %s, above the %s collectors.toml allows it; lower it, or %s",
					bytesize.Format(int64(s.mem)), bytesize.Format(int64(m.MemoryLimit)), grantHint(m.Name, "memory_limit = "+strconv.Quote(bytesize.Format(int64(s.mem)))))
			} else {
				m.MemoryLimit = s.mem
			}
		}
		if s.tmo > 0 {
			req.Timeout = s.tmo
			if s.tmo > m.Timeout {
				l.add(s.src, s.p.key("timeout"), CodeNotGranted, "the module requests timeout %s, above the %s collectors.toml allows it; lower it, or %s",
					formatDuration(s.tmo), formatDuration(m.Timeout), grantHint(m.Name, "timeout = "+strconv.Quote(formatDuration(s.tmo))))
			} else {
				m.Timeout = s.tmo
			}
		}
		var missing []Mount
		for _, mt := range s.mounts {
			if !slices.Contains(m.Mounts, mt) {
				missing = append(missing, mt)
			}
		}
		for _, mt := range missing {
			l.add(s.src, s.p.key("mounts").key(mt.Guest), CodeNotGranted, "the module requests mount %q = %q, which collectors.toml does not grant; %s",
				mt.Guest, mt.Host, grantHint(m.Name, "mounts = "+mountsTOML(append(slices.Clone(m.Mounts), missing...))))
		}
		var missingEnv []string
		for _, n := range s.env {
			if !slices.Contains(m.Env, n) {
				missingEnv = append(missingEnv, n)
			}
		}
		for _, n := range missingEnv {
			l.add(s.src, s.p.key("env"), CodeNotGranted, "the module requests environment variable %q, which collectors.toml does not grant; %s",
				n, grantHint(m.Name, "env = "+stringsTOML(append(slices.Clone(m.Env), missingEnv...))))
		}
	}

	dsReqs := map[*Module][]dsRequest{}
	for _, st := range l.order {
		if s := st.side; s != nil && s.ds != nil {
			dsReqs[st.mod] = append(dsReqs[st.mod], dsRequest{src: s.src, p: s.p.key("datasources"), who: "module", names: s.ds})
		}
	}
	for _, e := range l.entries {
		c, m := e.c, e.c.Module
		if m == nil {
			continue
		}
		if !l.timeoutSet[c] {
			c.Timeout = m.Timeout
		}
		if !e.src.sidecar {
			continue // the operator's own collectors grant what they say
		}
		req := &m.Requested
		if l.timeoutSet[c] {
			req.Timeout = max(req.Timeout, c.Timeout)
			if ceiling := operatorTimeout[m]; c.Timeout > ceiling {
				l.add(e.src, e.p.key("timeout"), CodeNotGranted, "the collector requests timeout %s, above the %s collectors.toml allows module %q; lower it, or %s",
					formatDuration(c.Timeout), formatDuration(ceiling), m.Name, grantHint(m.Name, "timeout = "+strconv.Quote(formatDuration(c.Timeout))))
			}
		}
		if c.DataSources != nil {
			dsReqs[m] = append(dsReqs[m], dsRequest{src: e.src, p: e.p.key("datasources"), who: "collector", names: c.DataSources})
			// Defence in depth: whatever happens to the problems, an ungranted source is not given.
			c.DataSources = slices.DeleteFunc(slices.Clone(c.DataSources), func(n string) bool { return !slices.Contains(m.DataSources, n) })
		}
		l.checkLimits(e, req)
	}
	for _, m := range l.reg.Modules {
		var missing []string
		for _, r := range dsReqs[m] {
			for _, n := range r.names {
				if !slices.Contains(m.Requested.DataSources, n) {
					m.Requested.DataSources = append(m.Requested.DataSources, n)
				}
				if !slices.Contains(m.DataSources, n) && !slices.Contains(missing, n) {
					missing = append(missing, n)
				}
			}
		}
		if len(missing) == 0 {
			continue
		}
		hint := grantHint(m.Name, "datasources = "+stringsTOML(append(slices.Clone(m.DataSources), missing...)))
		for _, r := range dsReqs[m] {
			for _, n := range r.names {
				if slices.Contains(missing, n) {
					l.add(r.src, r.p, CodeNotGranted, "the %s requests data source %q, which collectors.toml does not grant module %q; %s", r.who, n, m.Name, hint)
				}
			}
		}
	}
}

// checkLimits refuses a sidecar collector's [collector.limits] values above the operator's
// [limits], recording them in req.
func (l *loader) checkLimits(e entry, req *Requests) {
	c, base := e.c, l.reg.Limits
	for _, f := range []struct {
		key       string
		got, max  int64
		requested *int64
	}{
		{"max_json_bytes", c.Limits.MaxJSONBytes, base.MaxJSONBytes, &req.Limits.MaxJSONBytes},
		{"max_batch_bytes", c.Limits.MaxBatchBytes, base.MaxBatchBytes, &req.Limits.MaxBatchBytes},
		{"max_output_bytes", c.Limits.MaxOutputBytes, base.MaxOutputBytes, &req.Limits.MaxOutputBytes},
		{"max_log_bytes", c.Limits.MaxLogBytes, base.MaxLogBytes, &req.Limits.MaxLogBytes},
		{"max_stdio_bytes", c.Limits.MaxStdioBytes, base.MaxStdioBytes, &req.Limits.MaxStdioBytes},
	} {
		if f.got <= f.max {
			continue
		}
		*f.requested = max(*f.requested, f.got)
		l.add(e.src, e.p.key("limits").key(f.key), CodeNotGranted, "the collector requests %s %s, above the %s collectors.toml allows; lower it, or to allow it set in collectors.toml:\n  [limits]\n  %s = %q",
			f.key, bytesize.Format(f.got), bytesize.Format(f.max), f.key, bytesize.Format(f.got))
	}
}

// grantHint says what to add to collectors.toml: the module's table with the given lines.
func grantHint(module string, lines ...string) string {
	return "to grant it, add to collectors.toml:\n" + moduleTOML(module, lines)
}

func moduleTOML(module string, lines []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  [modules.%s]", strconv.Quote(module))
	for _, line := range lines {
		b.WriteString("\n  " + line)
	}
	return b.String()
}

// GrantTOML returns the collectors.toml lines that grant everything r asks for module (its
// name relative to modules_dir): a [modules."NAME"] table, and a [limits] table when a collector
// asks for more than the [limits] it was loaded with. It is "" when r asks for nothing.
// `wasmcollector check` uses it; an operator can paste it after reading it.
func (r Requests) GrantTOML(module string) string {
	var lines []string
	if len(r.DataSources) > 0 {
		lines = append(lines, "datasources = "+stringsTOML(r.DataSources))
	}
	if len(r.Mounts) > 0 {
		lines = append(lines, "mounts = "+mountsTOML(r.Mounts))
	}
	if len(r.Env) > 0 {
		lines = append(lines, "env = "+stringsTOML(r.Env))
	}
	if r.MemoryLimit > 0 {
		lines = append(lines, "memory_limit = "+strconv.Quote(bytesize.Format(int64(r.MemoryLimit))))
	}
	if r.Timeout > 0 {
		lines = append(lines, "timeout = "+strconv.Quote(formatDuration(r.Timeout)))
	}
	var b strings.Builder
	if len(lines) > 0 {
		b.WriteString(moduleTOML(module, lines) + "\n")
	}
	var limits []string
	for _, f := range []struct {
		key string
		n   int64
	}{
		{"max_json_bytes", r.Limits.MaxJSONBytes}, {"max_batch_bytes", r.Limits.MaxBatchBytes},
		{"max_output_bytes", r.Limits.MaxOutputBytes}, {"max_log_bytes", r.Limits.MaxLogBytes},
		{"max_stdio_bytes", r.Limits.MaxStdioBytes},
	} {
		if f.n > 0 {
			limits = append(limits, fmt.Sprintf("  %s = %q", f.key, bytesize.Format(f.n)))
		}
	}
	if len(limits) > 0 {
		b.WriteString("  [limits]\n" + strings.Join(limits, "\n") + "\n")
	}
	return b.String()
}

// stringsTOML writes names as a TOML array of strings.
func stringsTOML(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// mountsTOML writes mounts as a TOML inline table, guest path = host directory.
func mountsTOML(ms []Mount) string {
	q := make([]string, len(ms))
	for i, m := range ms {
		q[i] = strconv.Quote(m.Guest) + " = " + strconv.Quote(m.Host)
	}
	return "{ " + strings.Join(q, ", ") + " }"
}

// formatDuration writes d the short way a user would: "90m", "2h", "1h30m", "45s".
func formatDuration(d time.Duration) string {
	t := d.String()
	if strings.HasSuffix(t, "m0s") {
		t = strings.TrimSuffix(t, "0s")
	}
	if strings.HasSuffix(t, "h0m") {
		t = strings.TrimSuffix(t, "0m")
	}
	return t
}
