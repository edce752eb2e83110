package serve

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/replay"
)

// GatherRecords are the records of one gather's invocations, for `wasmcollector replay`: a
// directory of its own under [serve] record_dir.
type GatherRecords struct {
	// Name is the directory's name under the record directory: the gather's start time in UTC,
	// sortable, with "-2", "-3"... when two gathers start in the same second.
	Name string
	// Dir is the directory's absolute path; the page serves files from it and from nothing else.
	Dir string
	// FailuresOnly says only failed invocations' records were kept ([serve] record = "failures").
	FailuresOnly bool
	// Summary is what the recording wrote (and, with FailuresOnly, removed again).
	Summary replay.Summary
	// Err is why the gather could not be recorded, "" when it was.
	Err string

	removed atomic.Bool // the directory is gone: nothing kept, or the retention bounds removed it
}

// Removed reports whether the directory is gone: nothing was kept in it, or the retention
// bounds removed it since.
func (g *GatherRecords) Removed() bool { return g.removed.Load() }

// recordRoom is what a gather's recording leaves of record_keep_bytes for its summary file, so
// that one gather alone stays within the bound.
const recordRoom = 64 << 10

// recordDirPattern is the name of a gather's record directory; the retention bounds touch no
// other entry of the record directory.
var recordDirPattern = regexp.MustCompile(`^(\d{8}T\d{6}Z)(?:-(\d{1,6}))?$`)

// recordingFor returns the record settings for reg: [Config.Recording]'s, else its [serve]
// table's.
func (a *Agent) recordingFor(reg *registry.Registry) (registry.RecordSettings, error) {
	if a.cfg.Recording == nil {
		return reg.Serve.Record, nil
	}
	rs, err := a.cfg.Recording(reg)
	if err != nil {
		return rs, fmt.Errorf("serve: the record settings: %w", err)
	}
	if rs.Dir != "" && rs.KeepBytes < registry.MinRecordKeepBytes {
		return rs, fmt.Errorf("serve: record_keep_bytes %d is below %d", rs.KeepBytes, registry.MinRecordKeepBytes)
	}
	return rs, nil
}

// setRecording makes rs the record settings of the next gathers.
func (a *Agent) setRecording(rs registry.RecordSettings) {
	a.mu.Lock()
	changed := rs != a.recording
	a.recording = rs
	a.mu.Unlock()
	if changed {
		if rs.Dir == "" {
			a.log.Info("record settings changed: not recording from the next gather")
		} else {
			a.log.Info("record settings changed: they apply from the next gather", "record_dir", rs.Dir, "record", rs.Keep,
				"record_keep", rs.KeepGathers, "record_keep_bytes", rs.KeepBytes, "record_output", rs.Output, "record_secrets", rs.Secrets)
		}
	}
}

func (a *Agent) currentRecording() registry.RecordSettings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recording
}

// startRecording makes the record directory of the gather that starts at started and its
// recorder. A failure is logged and kept on the page; the gather runs unrecorded.
func (a *Agent) startRecording(started time.Time, rs registry.RecordSettings) (*GatherRecords, *replay.Recorder) {
	gr := &GatherRecords{FailuresOnly: rs.Keep == registry.RecordFailures}
	fail := func(err error) (*GatherRecords, *replay.Recorder) {
		gr.Err = err.Error()
		gr.removed.Store(true)
		a.log.Error("this gather is not recorded", "record_dir", rs.Dir, "error", err)
		return gr, nil
	}
	if err := os.MkdirAll(rs.Dir, 0o700); err != nil {
		return fail(fmt.Errorf("record directory: %w", err))
	}
	stamp := started.UTC().Format("20060102T150405Z")
	for n := 1; ; n++ {
		gr.Name = stamp
		if n > 1 {
			gr.Name += "-" + strconv.Itoa(n)
		}
		gr.Dir = filepath.Join(rs.Dir, gr.Name)
		err := os.Mkdir(gr.Dir, 0o700) // exclusive: never into another gather's records
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || n >= 999 {
			return fail(fmt.Errorf("record directory: %w", err))
		}
	}
	rec, err := replay.NewRecorder(gr.Dir, replay.Options{Secrets: rs.Secrets, Output: rs.Output,
		MaxBytes: min(rs.KeepBytes-recordRoom, replay.DefaultMaxBytes), FailuresOnly: gr.FailuresOnly})
	if err != nil {
		os.Remove(gr.Dir)
		return fail(err)
	}
	return gr, rec
}

// finishRecording counts what the gather's recording wrote, removes its directory when it
// kept nothing, and applies the retention bounds.
func (a *Agent) finishRecording(gr *GatherRecords, rec *replay.Recorder, rs registry.RecordSettings) {
	if rec == nil {
		return
	}
	gr.Summary = rec.Summary()
	s := gr.Summary
	a.metrics.recordsWritten.Add(float64(s.Records + s.Discarded))
	a.metrics.recordsDiscarded.Add(float64(s.Discarded))
	if s.Records == 0 && len(s.Errors) == 0 {
		// Nothing to hand anyone (every invocation succeeded, with record = "failures", or the
		// gather did not run): no empty directory to count against record_keep.
		if err := os.RemoveAll(gr.Dir); err != nil {
			a.log.Warn("remove an empty record directory", "dir", gr.Dir, "error", err)
		}
		gr.removed.Store(true)
	} else {
		a.log.Info("gather recorded", "dir", gr.Dir, "records", s.Records, "bytes", s.Bytes, "discarded", s.Discarded,
			"incomplete", s.Incomplete, "skipped", s.Skipped)
	}
	a.pruneRecords(rs, gr.Name)
}

// recordDir is one gather's record directory found on disk.
type recordDir struct {
	name  string
	stamp string
	n     int
	bytes int64
}

// pruneRecords removes the oldest gathers' records until those left are within rs's bounds,
// never the directory named keep (the gather just recorded), and sets the gauges. Only
// directories named as serve names them are counted or removed.
func (a *Agent) pruneRecords(rs registry.RecordSettings, keep string) {
	if rs.Dir == "" {
		return
	}
	dirs, err := listRecordDirs(rs.Dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("list the record directory", "dir", rs.Dir, "error", err)
		}
		return
	}
	var total int64
	for _, d := range dirs {
		total += d.bytes
	}
	var removed []string
	for len(dirs) > 0 {
		over := total > rs.KeepBytes || (rs.KeepGathers > 0 && len(dirs) > rs.KeepGathers)
		if !over || dirs[0].name == keep {
			break
		}
		d := dirs[0]
		if err := os.RemoveAll(filepath.Join(rs.Dir, d.name)); err != nil {
			a.log.Warn("remove old records", "dir", filepath.Join(rs.Dir, d.name), "error", err)
			break
		}
		removed = append(removed, filepath.Join(rs.Dir, d.name))
		total -= d.bytes
		dirs = dirs[1:]
	}
	if len(removed) > 0 {
		a.log.Info("removed the oldest gathers' records to keep within record_keep_bytes and record_keep",
			"removed", len(removed), "kept", len(dirs), "kept_bytes", total)
		a.metrics.recordGathersPruned.Add(float64(len(removed)))
		a.mu.Lock()
		for _, r := range a.history {
			if r.Records != nil && slices.Contains(removed, r.Records.Dir) {
				r.Records.removed.Store(true)
			}
		}
		a.mu.Unlock()
	}
	a.metrics.recordsKeptBytes.Set(float64(total))
	a.metrics.recordGathersKept.Set(float64(len(dirs)))
}

// listRecordDirs returns the gathers' record directories in dir, oldest first, with their
// sizes. Symbolic links and entries named otherwise are not theirs: left out.
func listRecordDirs(dir string) ([]recordDir, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []recordDir
	for _, e := range ents {
		m := recordDirPattern.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		d := recordDir{name: e.Name(), stamp: m[1], n: 1}
		if m[2] != "" {
			d.n, _ = strconv.Atoi(m[2])
		}
		// The files a gather's recording writes are directly in its directory.
		files, err := recordFiles(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			d.bytes += f.Size
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y recordDir) int {
		if c := strings.Compare(x.stamp, y.stamp); c != 0 {
			return c
		}
		return x.n - y.n
	})
	return out, nil
}

// RecordFile is one file of a gather's records, as the page lists it.
type RecordFile struct {
	Name string
	Size int64
}

// recordFiles lists the regular files directly in dir, by name. This list, not the request, is
// where the names the page serves come from.
func recordFiles(dir string) ([]RecordFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []RecordFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, RecordFile{Name: e.Name(), Size: info.Size()})
	}
	return out, nil
}

// gatherRecords returns the records of the gather the request names, or writes why there are
// none and returns nil.
func (a *Agent) gatherRecords(w http.ResponseWriter, r *http.Request) *GatherRecords {
	rec := a.recordOf(w, r)
	if rec == nil {
		return nil
	}
	gr := rec.Records
	if gr == nil || gr.Removed() {
		http.Error(w, "this gather's records are not kept", http.StatusNotFound)
		return nil
	}
	return gr
}

// recordsTar serves a gather's records as a tar of its directory: the records are compressed
// already.
func (a *Agent) recordsTar(w http.ResponseWriter, r *http.Request) {
	gr := a.gatherRecords(w, r)
	if gr == nil {
		return
	}
	files, err := recordFiles(gr.Dir)
	if err != nil {
		http.Error(w, "this gather's records are not kept", http.StatusNotFound)
		return
	}
	root, err := os.OpenRoot(gr.Dir) // a file is opened within the directory, never through a link out of it
	if err != nil {
		http.Error(w, "this gather's records are not kept", http.StatusNotFound)
		return
	}
	defer root.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "records-" + gr.Name + ".tar"}))
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := addToTar(tw, root, gr.Name, f.Name); err != nil {
			// The response has begun: end it short, so the client sees a broken tar, not a
			// complete one without the file.
			a.log.Warn("serve a gather's records", "dir", gr.Dir, "file", f.Name, "error", err)
			panic(http.ErrAbortHandler)
		}
	}
	if err := tw.Close(); err != nil {
		a.log.Warn("serve a gather's records", "dir", gr.Dir, "error", err)
	}
}

// addToTar adds root's file name under dir/ in the tar. A file the retention bounds removed
// since the listing is left out.
func addToTar(tw *tar.Writer, root *os.Root, dir, name string) error {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	hdr := &tar.Header{Name: dir + "/" + name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// An open file keeps its bytes even if the retention bounds remove it meanwhile.
	_, err = io.CopyN(tw, f, st.Size())
	return err
}

// recordFile serves one file of a gather's records, by a name the directory's listing has.
func (a *Agent) recordFile(w http.ResponseWriter, r *http.Request) {
	gr := a.gatherRecords(w, r)
	if gr == nil {
		return
	}
	name := r.PathValue("file")
	files, err := recordFiles(gr.Dir)
	if err != nil || !slices.ContainsFunc(files, func(f RecordFile) bool { return f.Name == name }) {
		http.Error(w, "no such record in this gather", http.StatusNotFound)
		return
	}
	root, err := os.OpenRoot(gr.Dir)
	if err != nil {
		http.Error(w, "no such record in this gather", http.StatusNotFound)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		http.Error(w, "no such record in this gather", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "no such record in this gather", http.StatusNotFound)
		return
	}
	ctype := "application/gzip"
	if strings.HasSuffix(name, ".json") {
		ctype = "application/json"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if _, err := io.CopyN(w, f, st.Size()); err != nil {
		a.log.Debug("serve a record", "file", name, "error", err)
	}
}

// recordMetrics are the recording's metrics.
type recordMetrics struct {
	recordsWritten      prometheus.Counter
	recordsDiscarded    prometheus.Counter
	recordGathersPruned prometheus.Counter
	recordsKeptBytes    prometheus.Gauge
	recordGathersKept   prometheus.Gauge
}

func newRecordMetrics(reg *prometheus.Registry) recordMetrics {
	m := recordMetrics{
		recordsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wasmcollector_records_written_total",
			Help: "Invocation records written for wasmcollector replay ([serve] record_dir), those removed again included.",
		}),
		recordsDiscarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wasmcollector_records_discarded_total",
			Help: `Records removed because their invocation succeeded ([serve] record = "failures").`,
		}),
		recordGathersPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wasmcollector_record_gathers_pruned_total",
			Help: "Gathers whose records were removed to keep within [serve] record_keep_bytes and record_keep, the oldest first.",
		}),
		recordsKeptBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmcollector_records_kept_bytes",
			Help: "Bytes of the gathers' records kept in [serve] record_dir, after the last gather.",
		}),
		recordGathersKept: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmcollector_record_gathers_kept",
			Help: "Gathers whose records are kept in [serve] record_dir, after the last gather.",
		}),
	}
	reg.MustRegister(m.recordsWritten, m.recordsDiscarded, m.recordGathersPruned, m.recordsKeptBytes, m.recordGathersKept)
	return m
}
