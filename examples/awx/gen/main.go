//go:build !wasip1

// Command gen generates the example AWX database the awx collectors read, into SQLite or
// PostgreSQL. The data is a pure function of the flags.
//
//	go run ./examples/awx/gen --scale 1 --until 2026-11-26T00:00:00Z --sqlite build/awx.db
//	go run ./examples/awx/gen --scale 100 --postgres "host=localhost user=awx dbname=awx"
//
// Exit status: 0 when loaded, 1 when the load failed, 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wasmcollector/wasmcollector/examples/awx/awxdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: gen [flags] (--sqlite FILE | --postgres DSN)

Generates a deterministic AWX-like dataset (organizations, inventories, hosts, templates, jobs,
job events, host metrics, instances, settings) and loads it. Scale 1 is about 5,000 job events;
events grow linearly with the scale, the other tables with its square root.

  --sqlite FILE     write a new SQLite database; an existing FILE is replaced atomically
  --postgres DSN    load into PostgreSQL (libpq connection string or URL; PGPASSWORD and the
                    other libpq variables apply), dropping and recreating the AWX tables

Flags:
`

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	scale := fs.Int("scale", 1, "dataset size: about 5,000 job events per unit (1 to 1000000)")
	until := fs.String("until", "", "end of the data window, RFC 3339 (default: now, truncated to the hour)")
	days := fs.Int("days", 28, "length of the data window in days (1 to 3650)")
	seed := fs.Uint64("seed", 1, "random seed: another seed, another dataset of the same shape")
	sqlitePath := fs.String("sqlite", "", "SQLite database file to write")
	dsn := fs.String("postgres", "", "PostgreSQL connection string to load into")
	quiet := fs.Bool("quiet", false, "print no progress, only the summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gen: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run gen --help for usage.")
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case (*sqlitePath == "") == (*dsn == ""):
		return usageErr("give exactly one of --sqlite FILE and --postgres DSN")
	case *scale < 1 || *scale > 1_000_000:
		return usageErr("--scale %d is out of range: want 1 to 1000000", *scale)
	case *days < 1 || *days > 3650:
		return usageErr("--days %d is out of range: want 1 to 3650", *days)
	}
	end := time.Now().UTC().Truncate(time.Hour)
	if *until != "" {
		t, err := time.Parse(time.RFC3339Nano, *until)
		if err != nil {
			return usageErr("--until %q is not an RFC 3339 time such as 2026-11-26T00:00:00Z", *until)
		}
		end = t.UTC()
	}

	rows := map[string]int64{}
	opts := awxdata.Options{Scale: *scale, Until: end, Days: *days, Seed: *seed,
		Progress: func(p awxdata.Progress) {
			if p.Done {
				rows[p.Table] = p.Rows
			} else if !*quiet {
				fmt.Fprintf(stderr, "%s: %d rows (%.1fs)\n", p.Table, p.Rows, p.Elapsed.Seconds())
			}
		}}
	start := time.Now()
	target := *sqlitePath
	var err error
	if *sqlitePath != "" {
		err = loadSQLite(ctx, *sqlitePath, opts)
	} else {
		target = "PostgreSQL"
		err = awxdata.LoadPostgres(ctx, *dsn, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", err)
		return 1
	}
	elapsed := time.Since(start)

	fmt.Fprintf(stdout, "loaded scale %d (seed %d, %d days up to %s) into %s in %.2fs\n",
		*scale, *seed, *days, end.Format(time.RFC3339Nano), target, elapsed.Seconds())
	var total int64
	for _, t := range awxdata.Tables {
		fmt.Fprintf(stdout, "  %-28s %10d\n", t.Name, rows[t.Name])
		total += rows[t.Name]
	}
	fmt.Fprintf(stdout, "  %-28s %10d  (%.0f rows/s)\n", "total", total, float64(total)/elapsed.Seconds())
	return 0
}

// loadSQLite writes the database beside path and renames it into place, so path is either the
// old database or the complete new one.
func loadSQLite(ctx context.Context, path string, opts awxdata.Options) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := awxdata.LoadSQLite(ctx, tmp, opts); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
