package serve

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/registry"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"ms":    func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"bytes": formatBytes,
	"join":  strings.Join,
	"recordFiles": func(dir string) []RecordFile {
		files, _ := recordFiles(dir)
		return files
	},
}).ParseFS(templateFS, "templates/*.html"))

// BasicAuth is one user and password the page and /metrics require; /healthz and /readyz stay
// open for probes.
type BasicAuth struct{ User, Password string }

// ReadBasicAuthFile reads a file holding one line "user:password".
func ReadBasicAuthFile(path string) (*BasicAuth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basic auth file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("basic auth file %s: %w", path, err)
	}
	user, pass, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
	if !ok || user == "" || pass == "" {
		return nil, fmt.Errorf("basic auth file %s: the first line must be user:password", path)
	}
	return &BasicAuth{User: user, Password: pass}, nil
}

// Handler returns the HTTP handler: the page at /, a gather at /gathers/{id}, a tarball's
// preview at /gathers/{id}/tarballs/{name}, a gather's records as a tar at
// /gathers/{id}/records.tar and one by one at /gathers/{id}/records/{file}, /metrics, /healthz
// and /readyz. auth, when not nil,
// guards everything but the health checks.
func (a *Agent) Handler(auth *BasicAuth) http.Handler {
	return a.handler(func() (*BasicAuth, bool) { return auth, auth != nil })
}

// HandlerAuth is [Agent.Handler] guarded by an [AuthFile], whose credentials change without a
// restart.
func (a *Agent) HandlerAuth(f *AuthFile) http.Handler { return a.handler(f.Current) }

func (a *Agent) handler(auth func() (*BasicAuth, bool)) http.Handler {
	guarded := http.NewServeMux()
	guarded.HandleFunc("GET /{$}", a.index)
	guarded.HandleFunc("GET /gathers/{id}", a.gatherPage)
	guarded.HandleFunc("GET /gathers/{id}/tarballs/{name}", a.tarballPage)
	guarded.HandleFunc("GET /gathers/{id}/records.tar", a.recordsTar)
	guarded.HandleFunc("GET /gathers/{id}/records/{file}", a.recordFile)
	guarded.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		ready := a.ready && !a.stopping
		a.mu.Unlock()
		if !ready {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("/", requireAuth(auth, guarded))
	return securityHeaders(mux)
}

// requireAuth guards next with the credentials current returns, read at each request; none
// required lets every request through, required with none refuses every one.
func requireAuth(current func() (*BasicAuth, bool), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, required := current()
		if !required {
			next.ServeHTTP(w, r)
			return
		}
		if auth == nil {
			auth = &BasicAuth{} // matches no request: an empty user or password is never valid
		}
		u, p, ok := r.BasicAuth()
		// Compare both in constant time, and both always, so timing tells nothing.
		uok := subtle.ConstantTimeCompare([]byte(u), []byte(auth.User))
		pok := subtle.ConstantTimeCompare([]byte(p), []byte(auth.Password))
		if !ok || uok&pok != 1 || auth.User == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="wasmcollector", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders forbids scripts and framing: the page shows untrusted collector output, and
// needs no script of its own.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// collectorView is one row of the page's collector table.
type collectorView struct {
	Key, Version, Format, Function string
	Module, SHA256                 string
	// SignedBy is who signed the module ("Acme Inc. (key …)", "unsigned", "invalid signature
	// (key …)", "not checked" without [trust]); Signature its status, for the cell's class.
	SignedBy, Signature   string
	Granted, Requested    []string
	LastRun               time.Time
	LastStatus, LastError string
}

func (a *Agent) collectors() []collectorView {
	reg := a.host().Registry()
	hist := a.History()
	var out []collectorView
	for _, c := range reg.Collectors {
		v := collectorView{Key: c.Key, Version: c.Version, Format: string(c.Format), Function: c.Function}
		if m := c.Module; m != nil {
			v.Module = m.Name
			v.SHA256 = a.moduleSum(m)
			v.SignedBy = m.Signature.Signer()
			if m.Signature != nil {
				v.Signature = m.Signature.Status
			}
			v.Granted = grants(m.DataSources, m.Mounts, m.Env)
			v.Requested = grants(m.Requested.DataSources, m.Requested.Mounts, m.Requested.Env)
		}
	find:
		for _, r := range hist {
			if r.Result == nil {
				continue
			}
			for _, cr := range r.Result.Collectors {
				if cr.Key == c.Key {
					v.LastRun, v.LastStatus, v.LastError = r.Started, cr.Status, cr.Error
					break find
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// moduleView is one row of the page's module table: who signed the module and when, and for a
// module that does not run, why.
type moduleView struct {
	Name, SHA256 string
	// SignedBy and Signature as in collectorView; SignedAt is the signing time the signature
	// claims (zero when it says none or does not verify).
	SignedBy, Signature string
	SignedAt            time.Time
	// Disabled is why the module does not run ("" when it runs); Downgrade is set when that is
	// rollback protection, refusing it as older than the newest signature accepted for it.
	Disabled  string
	Downgrade bool
}

func (a *Agent) modules() []moduleView {
	reg := a.host().Registry()
	view := func(m *registry.Module) moduleView {
		v := moduleView{Name: m.Name, SHA256: a.moduleSum(m), SignedBy: m.Signature.Signer()}
		if s := m.Signature; s != nil {
			v.Signature, v.SignedAt = s.Status, s.SignedAt
		}
		return v
	}
	var out []moduleView
	for _, m := range reg.Modules {
		out = append(out, view(m))
	}
	for _, d := range reg.Disabled {
		v := moduleView{Name: d.Name}
		if d.Module != nil {
			v = view(d.Module)
		}
		if len(d.Problems) > 0 && d.Problems[0].Code == registry.CodeDowngrade {
			v.Disabled, v.Downgrade = d.Problems[0].Message, true
		} else {
			v.Disabled = d.Problems.Error()
		}
		out = append(out, v)
	}
	return out
}

func grants(ds []string, mounts []registry.Mount, env []string) []string {
	var out []string
	for _, d := range ds {
		out = append(out, "datasource "+d)
	}
	for _, m := range mounts {
		out = append(out, "mount "+m.Host+" → "+m.Guest)
	}
	for _, e := range env {
		out = append(out, "env "+e)
	}
	return out
}

var sums sync.Map // module path → sha256, computed once per path and modification time

// moduleSum returns the module's pinned sha256, or else the sum of its file.
func (a *Agent) moduleSum(m *registry.Module) string {
	if m.SHA256 != "" {
		return m.SHA256
	}
	st, err := os.Stat(m.Path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	key := m.Path + "\x00" + st.ModTime().String()
	if s, ok := sums.Load(key); ok {
		return s.(string)
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable: " + err.Error()
	}
	s := hex.EncodeToString(h.Sum(nil))
	sums.Store(key, s)
	return s
}

func (a *Agent) index(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	running, next, reload := a.running, a.next, a.lastReload
	a.mu.Unlock()
	hist := a.History()
	a.render(w, "index.html", map[string]any{
		"Collectors": a.collectors(),
		"Modules":    a.modules(),
		"History":    hist,
		"Running":    running,
		"Next":       next,
		"Reload":     reload,
		"Timing":     a.Timing(),
		"Rows":       chart(hist, func(c *gather.CollectorResult) int64 { return c.Rows }, "rows"),
		"Bytes":      chart(hist, func(c *gather.CollectorResult) int64 { return c.Bytes }, "bytes"),
	})
}

func (a *Agent) gatherPage(w http.ResponseWriter, r *http.Request) {
	rec := a.recordOf(w, r)
	if rec == nil {
		return
	}
	a.render(w, "gather.html", rec)
}

func (a *Agent) tarballPage(w http.ResponseWriter, r *http.Request) {
	rec := a.recordOf(w, r)
	if rec == nil {
		return
	}
	name := r.PathValue("name")
	var t *gather.TarballResult
	if rec.Result != nil {
		for _, x := range rec.Result.Tarballs {
			if x.Name == name {
				t = x
			}
		}
	}
	if t == nil {
		http.Error(w, "no such tarball in this gather", http.StatusNotFound)
		return
	}
	a.render(w, "tarball.html", map[string]any{"Gather": rec, "Tarball": t, "Preview": rec.Previews[name]})
}

func (a *Agent) recordOf(w http.ResponseWriter, r *http.Request) *Record {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		http.Error(w, "bad gather id", http.StatusBadRequest)
		return nil
	}
	rec := a.record(id)
	if rec == nil {
		http.Error(w, "no such gather (the page keeps the last "+strconv.Itoa(a.cfg.History)+")", http.StatusNotFound)
	}
	return rec
}

func (a *Agent) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		a.log.Error("render page", "page", name, "error", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
