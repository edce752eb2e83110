package modulecheck

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/wasmcollector/wasmcollector/registry"
)

// sidecar is a module's sidecar as a product would load it: registry.LoadSidecar reads it alone,
// applying every rule, default and pin check of a registry.
//
// A sidecar only requests mounts, environment variables, data sources and limits; a product's
// collectors.toml grants them. check runs the vendor's own module, so it grants what the sidecar
// requests (registry.SidecarOptions.GrantRequests), and reports loudly that it did so
// (sidecar.granted, registry.Requests.GrantTOML), since an operator must grant these explicitly.
//
// A product's registry provides the config collector; a sidecar without one is a warning here.
//
// Mounts (`[module] mounts`) name host directories of the product's machine, which check's machine
// may lack: a missing host directory is a warning, and the collectors run without that mount.
// Nothing else is dropped or added.
type sidecar struct {
	reg       *registry.Registry    // the sidecar's registry, nil when it could not be read
	module    *registry.Module      // the module in reg
	cols      []*registry.Collector // the sidecar's collectors
	problems  []string              // the registry's problems, verbatim
	noConfig  bool                  // the sidecar declares no config collector
	mountWarn []string              // mounts whose host directory is missing here
	granted   string                // the collectors.toml lines that grant the sidecar's requests, "" if none
}

// loadSidecar loads sidecarPath for the module file modulePath, named name (NAME.wasm). Problems
// in the sidecar are in sidecar.problems.
func loadSidecar(sidecarPath, modulePath, name string) *sidecar {
	sc := &sidecar{}
	if info, err := os.Stat(sidecarPath); err == nil && info.Mode().IsRegular() && info.Size() > registry.DefaultMaxSidecarSize {
		sc.problems = []string{fmt.Sprintf("%s: file is %d bytes, over the %d-byte cap a product's registry applies by default ([runtime] max_sidecar_size); refused unread",
			sidecarPath, info.Size(), registry.DefaultMaxSidecarSize)}
		return sc
	}
	side, problems := registry.LoadSidecar(sidecarPath, registry.SidecarOptions{Module: modulePath, Name: name, GrantRequests: true})
	for _, p := range problems {
		if p.Code == registry.CodeNotFound && strings.HasPrefix(p.Field, "module.mounts.") {
			sc.mountWarn = append(sc.mountWarn, p.Error())
			continue
		}
		sc.problems = append(sc.problems, p.Error())
	}
	if side == nil {
		return sc
	}
	sc.reg, sc.module, sc.cols = side.Registry, side.Module, side.Collectors
	sc.noConfig = true
	for _, c := range side.Collectors {
		sc.noConfig = sc.noConfig && !c.Config
	}
	if sc.module == nil {
		if len(sc.problems) == 0 {
			sc.problems = append(sc.problems, fmt.Sprintf("%s: declares no collector", sidecarPath))
		}
		return sc
	}
	sc.granted = sc.module.Requested.GrantTOML(sc.module.Name)
	return sc
}

// collectors returns the sidecar's collectors, in declaration order.
func (sc *sidecar) collectors() []*registry.Collector {
	if sc.module == nil {
		return nil
	}
	return sc.cols
}

// dataSourceName is what a fixture may name: a data source name, as the registry allows.
var dataSourceName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidFixtureName reports whether name may name a fixture in Options.Fixtures: a data source
// name, as the registry allows.
func ValidFixtureName(name string) bool { return dataSourceName.MatchString(name) }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
