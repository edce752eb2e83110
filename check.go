package wasmcollector

import (
	"context"

	"github.com/wasmcollector/wasmcollector/modulecheck"
)

// Check answers whether a module and its sidecar are fit to ship, item by item (see
// [modulecheck]): the module is compiled and checked by the runtime, the sidecar read on its own
// by the registry, and each collector run in the sandbox on an empty and a sample slice. It
// needs no registry: it is what a vendor's CI runs before a release. Report.Passed is false when
// an item failed; the error is for what kept it from checking at all.
func Check(ctx context.Context, opts modulecheck.Options) (*modulecheck.Report, error) {
	return modulecheck.Check(ctx, opts)
}
