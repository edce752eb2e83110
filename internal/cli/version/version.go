// Package version implements `wasmcollector version`.
package version

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/gather"
	"github.com/wasmcollector/wasmcollector/guest-sdk/go/abi"
	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/worker"
)

// Info is what `version -o json` prints.
type Info struct {
	Version string `json:"version"`
	ABI     string `json:"abi"`
	Wazero  string `json:"wazero"`
	Go      string `json:"go"`
	// Isolation is how collectors run by default here: "process" (worker processes) where the
	// platform supports them, else "in-process". [runtime] isolation may choose in-process;
	// `gather -o json` reports what a gather used.
	Isolation string `json:"isolation"`
}

// Current returns the build's version information.
func Current(version string) Info {
	info := Info{Version: version, ABI: abi.ModuleName, Wazero: "unknown", Go: goruntime.Version(), Isolation: gather.IsolationInProcess}
	if worker.Supported {
		info.Isolation = gather.IsolationProcess
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				info.Wazero = d.Version
			}
		}
	}
	return info
}

// NewCmdVersion returns the version command.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	var output cmdutil.OutputFormat
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the ABI it serves and what it was built with",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := Current(f.Version)
			if output == cmdutil.OutputJSON {
				return cmdutil.WriteJSON(f.Stdout, info)
			}
			_, err := fmt.Fprintf(f.Stdout, "wasmcollector %s (ABI %s, wazero %s, %s, isolation %s)\n", info.Version, info.ABI, info.Wazero, info.Go, info.Isolation)
			return err
		},
	}
	cmd.Flags().VarP(&output, "output", "o", "output format: {text|json}")
	return cmd
}
