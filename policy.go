package wasmcollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/internal/secret"
	"github.com/wasmcollector/wasmcollector/packaging"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/shipping"
)

// licenseFromRegistry is the default gate from the TOML's [license] table: when required, the
// license file must exist and be non-empty.
func licenseFromRegistry(reg *registry.Registry) gather.LicenseChecker {
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
		return fmt.Errorf("%w: license file: %v", gather.ErrNotLicensed, err)
	case st.Size() == 0:
		return fmt.Errorf("%w: license file %s is empty", gather.ErrNotLicensed, l.file)
	}
	return nil
}

// shipperFromRegistry builds the shipper the TOML's [shipping] table describes: an uploader, or,
// without a URL, one that reports shipping as not configured (so dry-runs still work). Secrets are
// read here, from the environment variables and files the TOML names; a missing one is an error
// naming it.
func shipperFromRegistry(reg *registry.Registry, userAgent string, log *slog.Logger) (gather.Shipper, error) {
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
			u, err := secret.Ref{Env: sh.UsernameEnv}.Resolve()
			errs = append(errs, err)
			cfg.Username = u
		}
		p, err := secret.Ref{Env: sh.PasswordEnv, File: sh.PasswordFile}.Resolve()
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
	return fmt.Errorf("%w: set [shipping] url in the TOML, or gather with --dry-run", gather.ErrShippingNotConfigured)
}

func (notConfigured) Ship(context.Context, *packaging.Tarball) error {
	return gather.ErrShippingNotConfigured
}
