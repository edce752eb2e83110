package gather

import (
	"context"
	"errors"

	"github.com/wasmcollector/wasmcollector/packaging"
)

// LicenseChecker is the license gate (upstream's _is_valid_license, D10): a gather runs only when
// it returns nil. Products plug in their own; the front door builds the TOML-driven default from [license].
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
