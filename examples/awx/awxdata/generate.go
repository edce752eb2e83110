//go:build !wasip1

package awxdata

import (
	"errors"
	"fmt"
	"time"
)

// Options say what to generate. The same Options (Progress aside) always give the same rows.
type Options struct {
	// Scale sets the size: about EventsPerScale job events per unit, growing linearly, while the
	// other tables grow with its square root (hosts, jobs, templates, users) or fourth root
	// (organizations, inventories, instances). 0 means 1.
	Scale int
	// Until is the end of the data window, inclusive; required. It is truncated to the
	// microsecond. Job events, jobs and host automations lie in (Until − Days, Until]; objects
	// such as organizations, hosts and templates were created before that.
	Until time.Time
	// Days is the length of the window; 0 means 28.
	Days int
	// Seed picks one of many equally plausible datasets.
	Seed uint64
	// Progress, when set, is called by the loaders: every 100,000 rows of a table and once when
	// the table is done.
	Progress func(Progress)
}

// Progress reports a loader's progress through one table.
type Progress struct {
	Table string
	// Rows is the number of rows loaded into the table so far.
	Rows int64
	// Done is set on the table's last report, after its rows are in.
	Done bool
	// Elapsed is the time since the load started.
	Elapsed time.Duration
}

// EventsPerScale is the approximate number of job events per unit of Options.Scale.
const EventsPerScale = 5000

// BatchSize is the most rows a Sink receives per Rows call.
const BatchSize = 1000

// A Sink receives the generated rows: for each table of Tables in order, Begin, any number of
// Rows calls, then End. Rows' values follow the table's columns (see ColType); the sink may keep
// the slices. An error stops the generation and is returned by Generate.
type Sink interface {
	Begin(t *Table) error
	Rows(t *Table, rows [][]any) error
	End(t *Table) error
}

const maxScale = 1_000_000

func (o Options) normalize() (Options, error) {
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Days == 0 {
		o.Days = 28
	}
	switch {
	case o.Scale < 1 || o.Scale > maxScale:
		return o, fmt.Errorf("awxdata: scale %d is out of range: want 1 to %d", o.Scale, maxScale)
	case o.Days < 1 || o.Days > 3650:
		return o, fmt.Errorf("awxdata: days %d is out of range: want 1 to 3650", o.Days)
	case o.Until.IsZero():
		return o, errors.New("awxdata: until is required")
	}
	o.Until = o.Until.UTC().Truncate(time.Microsecond)
	// Objects are created up to about three years before the window.
	if y := o.Until.AddDate(0, 0, -o.Days-4*365).Year(); y < 1 || o.Until.Year() > 9999 {
		return o, fmt.Errorf("awxdata: until %s is out of range", o.Until.Format(time.RFC3339))
	}
	return o, nil
}

// Generate produces the dataset described by opts and hands it to sink table by table. Only the
// small tables are held in memory; job events are generated as they are handed over.
func Generate(opts Options, sink Sink) error {
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	p := newPlan(o)
	for _, t := range Tables {
		if err := sink.Begin(t); err != nil {
			return err
		}
		if t == JobEvent {
			err = p.events(func(rows [][]any) error { return sink.Rows(t, rows) })
		} else {
			err = sendBatches(sink, t, p.rows(t))
		}
		if err != nil {
			return err
		}
		if err := sink.End(t); err != nil {
			return err
		}
	}
	return nil
}

func sendBatches(sink Sink, t *Table, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), BatchSize)
		if err := sink.Rows(t, rows[:n:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// Time is handled as Unix microseconds inside the generator.
const (
	usMilli  = int64(1000)
	usSecond = 1000 * usMilli
	usMinute = 60 * usSecond
	usHour   = 60 * usMinute
	usDay    = 24 * usHour
)

func ts(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullTime is ts(us), or NULL for 0.
func nullTime(us int64) any {
	if us == 0 {
		return nil
	}
	return ts(us)
}

// nullInt is id, or NULL for 0.
func nullInt(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullText is s, or NULL for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// AppendTime appends t in TimeLayout, like t.UTC().AppendFormat(b, TimeLayout) but faster.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// FormatTime returns t in TimeLayout.
func FormatTime(t time.Time) string { return string(AppendTime(make([]byte, 0, len(TimeLayout)), t)) }

func appendDigits(b []byte, v, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 || i > len(d)-width {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[i:]...)
}
