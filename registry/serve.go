package registry

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wasmcollector/wasmcollector/internal/bytesize"
)

// Defaults of [ServeSettings]: the serve package cannot be imported here (it imports the
// registry), so the registry declares them and `wasmcollector serve` reads them from the model.
const (
	// DefaultServeInterval is the default of [serve] interval: six gathers a day keep each
	// tarball small without making the ingress busy.
	DefaultServeInterval = 4 * time.Hour
	// DefaultServeListen is the default of [serve] listen: loopback, since the page shows what
	// the collectors emit.
	DefaultServeListen = "127.0.0.1:9110"
	// DefaultRecordKeepBytes is the default of [serve] record_keep_bytes: the default cap of one
	// gather's recording (replay.DefaultMaxBytes), so one full recording fits.
	DefaultRecordKeepBytes = 256 << 20
	// MinRecordKeepBytes is the least [serve] record_keep_bytes: below it a gather records
	// next to nothing (each invocation needs 32 KiB of room, times the workers that run at once).
	MinRecordKeepBytes = 1 << 20
)

// What [serve] record keeps.
const (
	RecordAll      = "all"      // every invocation's record
	RecordFailures = "failures" // the records of invocations that failed
)

// maxServeInterval bounds [serve] interval, as max_window is bounded: a longer one is a typo.
const maxServeInterval = maxMaxWindow

// hostnamePattern is what a listen host may be when it is not an IP address.
var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)

// ServeSettings is the [serve] table: when `wasmcollector serve` gathers and where it serves its
// page, metrics and health checks. Each of serve's flags overrides its key.
type ServeSettings struct {
	// Interval is the time from the start of one scheduled gather to the next. TOML `interval`,
	// a duration or whole days; default 4h ([DefaultServeInterval]); 0 when Cron is set.
	Interval time.Duration
	// Cron, when not "", gathers at the times of this cron expression instead of every
	// Interval: five fields, a descriptor such as "@hourly", optionally after "TZ=Zone ". TOML
	// `cron`, parsed by github.com/robfig/cron/v3 as serve parses it; excludes `interval`.
	Cron string
	// Jitter delays each scheduled gather by a random duration below it, so that nodes started
	// together do not gather at once. TOML `jitter`; default 0; less than Interval, or than the
	// shortest time between two firings of Cron (over its next 1000 firings).
	Jitter time.Duration
	// Listen is the host:port of the page, /metrics and the health checks. TOML `listen`;
	// default "127.0.0.1:9110" ([DefaultServeListen]).
	Listen string
	// BasicAuthFile, when not "", is the absolute path of a file whose first line is
	// user:password, required by the page and /metrics. TOML `basic_auth_file`, relative to the
	// root file's directory; read by serve when it starts.
	BasicAuthFile string
	// Watch, when true, reloads when collectors.toml or the modules directory changes (SIGHUP
	// reloads either way). TOML `watch`; default true.
	Watch bool
	// Record says whether and how serve records its gathers' invocations for `wasmcollector
	// replay`; off unless Record.Dir is set.
	Record RecordSettings
}

// RecordSettings are [serve]'s record keys: serve records each gather's invocations into a
// directory of its own under Dir, and keeps the newest gathers' records within the bounds.
type RecordSettings struct {
	// Dir, when not "", is the absolute path of the directory of the records. TOML
	// `record_dir`, relative to the root file's directory; default "" (no recording).
	Dir string
	// Keep is what is kept: [RecordAll] (the default) or [RecordFailures], the records of
	// invocations that failed, were abandoned, or whose output the gather refused. TOML `record`.
	Keep string
	// KeepGathers, when more than 0, is how many gathers' records are kept, the newest. TOML
	// `record_keep`; default 0 (no bound by count).
	KeepGathers int
	// KeepBytes bounds the size of the records kept: the oldest gathers' are removed first, and
	// a gather records under this cap. TOML `record_keep_bytes`, a size such as "256MiB";
	// default [DefaultRecordKeepBytes]; at least [MinRecordKeepBytes].
	KeepBytes int64
	// Output records the output's bytes, so that a replay can show a diff. TOML
	// `record_output`; default false.
	Output bool
	// Secrets records the values of the modules' environment variables, which are otherwise
	// redacted. TOML `record_secrets`; default false.
	Secrets bool
}

func defaultServe() ServeSettings {
	return ServeSettings{Interval: DefaultServeInterval, Listen: DefaultServeListen, Watch: true,
		Record: RecordSettings{Keep: RecordAll, KeepBytes: DefaultRecordKeepBytes}}
}

// ParseCron parses a cron expression as [serve] cron and `wasmcollector serve --cron` take it:
// five fields, a descriptor such as "@hourly" or "@every 2h", optionally after "TZ=Zone ".
// It returns the function giving the next time after a time, zero when there is none.
func ParseCron(expr string) (func(time.Time) time.Time, error) {
	// robfig/cron's parser is well tested and knows descriptors and zones; only the parser is
	// used, serve keeps its own loop.
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, err
	}
	return s.Next, nil
}

// cronGapFirings is how many firings [CronShortestGap] looks at from the validation time: almost
// three years of a daily expression (its zone's clock changes and February are in it), 41 days
// of an hourly one, 3.5 days of one every 5 minutes; robfig's Next costs about 30 µs a firing, so
// at most some 30 ms, and only when both cron and jitter are set.
const cronGapFirings = 1000

// cronGapSpan bounds the span CronShortestGap looks at: 28 years, after which the calendar
// (weekdays, leap years) repeats, for expressions that fire rarely ("0 0 13 * 5").
const cronGapSpan = 28 * 366 * 24 * time.Hour

// CronShortestGap returns the shortest time between two consecutive firings of next (a
// [ParseCron] result) over its next firings after from: at most n of them, and none more than
// 28 years on. ok is false when there are fewer than two firings.
func CronShortestGap(next func(time.Time) time.Time, from time.Time, n int) (gap time.Duration, ok bool) {
	prev := next(from)
	if prev.IsZero() {
		return 0, false
	}
	end := prev.Add(cronGapSpan)
	for range n - 1 {
		t := next(prev)
		if t.IsZero() || t.After(end) {
			break
		}
		if d := t.Sub(prev); !ok || d < gap {
			gap, ok = d, true
		}
		prev = t
	}
	return gap, ok
}

// CheckCronJitter returns what is wrong with delaying each firing of the cron expression expr
// by up to jitter, or "": a jitter not below the shortest gap between two firings (from from on)
// could start a gather after the next firing's time.
func CheckCronJitter(expr string, jitter time.Duration, from time.Time) string {
	next, err := ParseCron(expr)
	if err != nil || jitter <= 0 {
		return ""
	}
	gap, ok := CronShortestGap(next, from, cronGapFirings)
	if !ok || jitter < gap {
		return ""
	}
	return fmt.Sprintf("must be less than the shortest time between two firings of cron %q, %s", expr, Duration(gap))
}

// serve decodes [serve] and applies its defaults.
func (l *loader) serve(src *source, x *table[serveTable]) ServeSettings {
	sv := defaultServe()
	p := path{}.key("serve")
	if !x.ok(l, src, p, "a table") {
		return sv
	}
	t := &x.t
	intervalSet := false
	if d, ok := get(l, src, p.key("interval"), t.Interval); ok {
		intervalSet = true
		switch s := t.Interval.raw; {
		case d <= 0:
			l.add(src, p.key("interval"), CodeInvalid, "interval %q must be more than 0", s)
		case time.Duration(d) > maxServeInterval:
			l.add(src, p.key("interval"), CodeInvalid, "interval %q must be at most %dd", s, maxServeInterval/day)
		default:
			sv.Interval = time.Duration(d)
		}
	}
	if s, ok := get(l, src, p.key("cron"), t.Cron); ok && s != "" {
		if _, err := ParseCron(s); err != nil {
			l.add(src, p.key("cron"), CodeInvalid, `invalid cron %q: %v (want five fields such as "0 */4 * * *", or "@daily")`, s, err)
		} else if intervalSet {
			l.add(src, p.key("cron"), CodeInvalid, "cron and interval exclude each other: keep one")
		} else {
			sv.Cron, sv.Interval = s, 0
		}
	}
	if d, ok := get(l, src, p.key("jitter"), t.Jitter); ok {
		cronMsg := ""
		if sv.Cron != "" {
			cronMsg = CheckCronJitter(sv.Cron, time.Duration(d), time.Now())
		}
		switch s := t.Jitter.raw; {
		case d < 0:
			l.add(src, p.key("jitter"), CodeInvalid, "jitter %q must not be negative", s)
		case sv.Interval > 0 && time.Duration(d) >= sv.Interval:
			l.add(src, p.key("jitter"), CodeInvalid, "jitter %q must be less than the interval, %s", s, Duration(sv.Interval))
		case cronMsg != "":
			l.add(src, p.key("jitter"), CodeInvalid, "jitter %q %s", s, cronMsg)
		default:
			sv.Jitter = time.Duration(d)
		}
	}
	if s, ok := get(l, src, p.key("listen"), t.Listen); ok {
		if msg := checkListen(s); msg != "" {
			l.add(src, p.key("listen"), CodeInvalid, `invalid listen %q: %s`, s, msg)
		} else {
			sv.Listen = s
		}
	}
	if s, ok := get(l, src, p.key("basic_auth_file"), t.BasicAuthFile); ok && s != "" {
		sv.BasicAuthFile = absDir(filepath.Dir(src.abs), s)
	}
	if b, ok := get(l, src, p.key("watch"), t.Watch); ok {
		sv.Watch = b
	}
	sv.Record = l.serveRecord(src, p, t)
	return sv
}

// serveRecord decodes [serve]'s record keys.
func (l *loader) serveRecord(src *source, p path, t *serveTable) RecordSettings {
	rs := defaultServe().Record
	if s, ok := get(l, src, p.key("record_dir"), t.RecordDir); ok && s != "" {
		rs.Dir = absDir(filepath.Dir(src.abs), s)
	}
	if s, ok := get(l, src, p.key("record"), t.Record); ok {
		switch s {
		case RecordAll, RecordFailures:
			rs.Keep = s
		default:
			l.add(src, p.key("record"), CodeInvalid, `invalid record %q: want "all" or "failures"`, s)
		}
	}
	if n, ok := get(l, src, p.key("record_keep"), t.RecordKeep); ok {
		if n < 0 || n > maxRecordKeep {
			l.add(src, p.key("record_keep"), CodeInvalid, "record_keep %d must be from 0 (no bound by count) to %d gathers", n, maxRecordKeep)
		} else {
			rs.KeepGathers = int(n)
		}
	}
	if n, ok := l.size(src, p.key("record_keep_bytes"), t.RecordKeepB); ok {
		if n < MinRecordKeepBytes {
			l.add(src, p.key("record_keep_bytes"), CodeInvalid, "record_keep_bytes %s is too small: must be at least %s",
				bytesize.Format(n), bytesize.Format(MinRecordKeepBytes))
		} else {
			rs.KeepBytes = n
		}
	}
	if b, ok := get(l, src, p.key("record_output"), t.RecordOutput); ok {
		rs.Output = b
	}
	if b, ok := get(l, src, p.key("record_secrets"), t.RecordSecrets); ok {
		rs.Secrets = b
	}
	return rs
}

// maxRecordKeep bounds [serve] record_keep: a larger one is a typo (six gathers a day for
// almost five years).
const maxRecordKeep = 10000

// checkListen returns what is wrong with a listen address, or "".
func checkListen(s string) string {
	const want = `want host:port, such as "127.0.0.1:9110", "[::1]:9110" or ":9110" (every interface)`
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return want
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "the port must be a number from 0 to 65535; " + want
	}
	if host != "" && net.ParseIP(host) == nil && !hostnamePattern.MatchString(host) {
		return "the host must be an IP address or a host name; " + want
	}
	return ""
}
