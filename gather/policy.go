package gather

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/shipping"
)

// LicenseChecker is the license gate (upstream's _is_valid_license, D10): a gather runs only when
// it returns nil. Products plug in their own; [LicenseFromRegistry] is the TOML-driven default.
type LicenseChecker interface {
	CheckLicense(ctx context.Context) error
}

// Shipper delivers tarballs to the ingress (upstream's Package.ship, D10). Manual and scheduled
// gathers need one that is configured.
type Shipper interface {
	// Configured returns nil when shipping can run, else why not (no URL, no credentials).
	Configured() error
	// Ship uploads one tarball; nil means the ingress accepted it.
	Ship(ctx context.Context, t *packaging.Tarball) error
}

// ErrNotLicensed and ErrShippingNotConfigured stop a gather before it starts; use errors.Is.
var (
	ErrNotLicensed           = errors.New("gather: not licensed")
	ErrShippingNotConfigured = errors.New("gather: shipping is not configured")
)

// LicenseFromRegistry is the default gate from the TOML's [license] table: when required, the
// license file must exist and be non-empty.
func LicenseFromRegistry(reg *registry.Registry) LicenseChecker {
	return fileLicense{required: reg.License.Required, file: reg.License.File}
}

type fileLicense struct {
	required bool
	file     string
}

func (l fileLicense) CheckLicense(context.Context) error {
	if !l.required {
		return nil
	}
	st, err := os.Stat(l.file)
	switch {
	case err != nil:
		return fmt.Errorf("%w: license file: %v", ErrNotLicensed, err)
	case st.Size() == 0:
		return fmt.Errorf("%w: license file %s is empty", ErrNotLicensed, l.file)
	}
	return nil
}

// ShipperFromRegistry builds the shipper the TOML's [shipping] table describes: an uploader, or,
// without a URL, one that reports shipping as not configured (so dry-runs still work). Secrets are
// read here, from the environment variables and files the TOML names; a missing one is an error
// naming it.
func ShipperFromRegistry(reg *registry.Registry, userAgent string, log *slog.Logger) (Shipper, error) {
	sh := reg.Shipping
	if sh.URL == "" {
		return notConfigured{}, nil
	}
	cfg := shipping.Config{
		URL: sh.URL, ContentType: sh.ContentType, UserAgent: userAgent, Headers: sh.Headers,
		Auth: shipping.Auth(sh.Auth), Username: sh.Username, ClientCertFile: sh.ClientCert,
		ClientKeyFile: sh.ClientKey, CABundleFile: sh.CABundle, InsecureSkipVerify: sh.InsecureSkipVerify,
		ConnectTimeout: sh.ConnectTimeout, Timeout: sh.Timeout, MaxAttempts: sh.MaxAttempts,
		InitialBackoff: sh.RetryBackoff,
	}
	var errs []error
	if sh.Auth == string(shipping.AuthUserPass) {
		if sh.UsernameEnv != "" {
			u, err := shipping.Secret{Env: sh.UsernameEnv}.Resolve()
			errs = append(errs, err)
			cfg.Username = u
		}
		p, err := shipping.Secret{Env: sh.PasswordEnv, File: sh.PasswordFile}.Resolve()
		errs = append(errs, err)
		cfg.Password = p
	}
	if sh.Auth == string(shipping.AuthIdentity) && sh.IdentityFile != "" {
		b, err := os.ReadFile(sh.IdentityFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("shipping identity_file: %w", err))
		}
		cfg.Identity = b
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u, err := shipping.New(cfg, nil, log)
	if err != nil {
		return nil, err
	}
	return u, nil
}

type notConfigured struct{}

func (notConfigured) Configured() error {
	return fmt.Errorf("%w: set [shipping] url in the TOML, or gather with --dry-run", ErrShippingNotConfigured)
}

func (notConfigured) Ship(context.Context, *packaging.Tarball) error {
	return ErrShippingNotConfigured
}
