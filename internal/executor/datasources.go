package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/wasmcollector/wasmcollector/datasource"
	"github.com/wasmcollector/wasmcollector/hostfuncs"
	"github.com/wasmcollector/wasmcollector/internal/secret"
	"github.com/wasmcollector/wasmcollector/registry"
)

// DataSources opens the registry's data sources on first use and hands each collector the ones
// granted to it, and no other. It is safe for concurrent use; Close it when done.
type DataSources struct {
	reg *registry.Registry

	mu   sync.Mutex
	open map[string]*openSource
}

type openSource struct {
	once sync.Once
	src  *datasource.Source
	err  error
}

// NewDataSources returns the data sources of reg, none opened yet.
func NewDataSources(reg *registry.Registry) *DataSources {
	return &DataSources{reg: reg, open: map[string]*openSource{}}
}

// Granted returns the data sources granted to c, opened. An error names the source that could
// not be opened (a missing file, an unreachable server, a secret that is not set).
func (d *DataSources) Granted(ctx context.Context, c *registry.Collector) (map[string]hostfuncs.DataSource, error) {
	if len(c.DataSources) == 0 {
		return nil, nil
	}
	out := make(map[string]hostfuncs.DataSource, len(c.DataSources))
	for _, name := range c.DataSources {
		cfg := d.reg.DataSources[name]
		if cfg == nil {
			return nil, fmt.Errorf("data source %q is not declared", name)
		}
		d.mu.Lock()
		o := d.open[name]
		if o == nil {
			o = &openSource{}
			d.open[name] = o
		}
		d.mu.Unlock()
		o.once.Do(func() { o.src, o.err = openDataSource(ctx, cfg) })
		if o.err != nil {
			return nil, o.err
		}
		out[name] = datasource.Granted(o.src)
	}
	return out, nil
}

// Close closes every opened data source.
func (d *DataSources) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, o := range d.open {
		if o.src != nil {
			errs = append(errs, o.src.Close())
		}
	}
	d.open = map[string]*openSource{}
	return errors.Join(errs...)
}

func openDataSource(ctx context.Context, cfg *registry.DataSource) (*datasource.Source, error) {
	dc, err := dataSourceConfig(cfg)
	if err != nil {
		return nil, err
	}
	return datasource.Open(ctx, dc)
}

// dataSourceConfig turns a registry data source into the datasource package's configuration,
// with its secrets resolved.
func dataSourceConfig(cfg *registry.DataSource) (datasource.Config, error) {
	dc := datasource.Config{Name: cfg.Name, Driver: datasource.Driver(cfg.Driver), MaxRows: cfg.MaxRows,
		MaxBytes: cfg.MaxBytes, Timeout: cfg.Timeout, AllowPrivilegedRole: cfg.AllowPrivilegedRole,
		TimeFormat: datasource.TimeFormat(cfg.TimestampFormat)}
	switch cfg.Driver {
	case "sqlite":
		dc.DSN = cfg.Path
	default:
		dsn, password, err := ResolveDSN(cfg.DSN, cfg.DSNEnv, cfg.DSNFile, cfg.PasswordEnv, cfg.PasswordFile)
		if err != nil {
			return dc, fmt.Errorf("data source %q: %w", cfg.Name, err)
		}
		dc.DSN, dc.Password = dsn, password
	}
	return dc, nil
}

// ResolveDSN resolves a PostgreSQL connection's secrets from the TOML's parts: the connection
// string, dsn or the variable (dsnEnv) or file (dsnFile) holding it, and the password from
// passwordEnv or passwordFile ("" if neither is set). The password is returned apart, for the
// caller to set on the parsed connection settings (datasource.Config.Password,
// state.OpenPostgres) rather than splice into the string.
func ResolveDSN(dsn, dsnEnv, dsnFile, passwordEnv, passwordFile string) (resolved, password string, err error) {
	whole, err := secret.Ref{Env: dsnEnv, File: dsnFile}.Resolve()
	if err != nil {
		return "", "", fmt.Errorf("dsn: %w", err)
	}
	if whole != "" {
		dsn = whole
	}
	password, err = secret.Ref{Env: passwordEnv, File: passwordFile}.Resolve()
	if err != nil {
		return "", "", fmt.Errorf("password: %w", err)
	}
	return dsn, password, nil
}
