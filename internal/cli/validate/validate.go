// Package validate implements `wasmcollector validate`: the registry and every module it names,
// checked together, every problem reported at once.
package validate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/executor"
	"github.com/wasmcollector/wasmcollector/registry"
	"github.com/wasmcollector/wasmcollector/runtime"
)

// Options are the flags of validate.
type Options struct {
	Factory *cmdutil.Factory
	Output  cmdutil.OutputFormat
}

// NewCmdValidate returns the validate command; runF replaces the real run in tests when not nil.
func NewCmdValidate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check collectors.toml, its sidecars and every module",
		Long: `Check the registry and the modules it names, and report every problem at once:
TOML syntax and unknown fields, missing or duplicate keys, a second config collector, bad
formats, durations and sizes, module files that are missing, escape the modules directory or
do not match their sha256 pin, sidecars that request what collectors.toml does not grant,
with [trust], signatures that do not verify (warnings when signatures are not required) and
modules a gather would refuse as a downgrade (signed before the newest signature accepted for
them, problem code "downgrade"; the signing record is read, never written);
then each module is compiled and checked against ABI v1 (imports, declared exports and their
types, memory declaration). A collector function the module does not export is reported at the
line that names it (the sidecar's, for a vendor's collector) with the module's collector
functions, and fails only that collector; a module built for the wrong target (GOOS=js, a WASI
command, TinyGo's //export in a Go module) gets one line naming the fix. For each module with a
sidecar it shows what collectors.toml grants and what the sidecar requests.

Warnings do not fail validation: a NAME.wasm in the modules directory that neither a sidecar
NAME.toml nor collectors.toml declares, a sidecar-like NAME.toml without its NAME.wasm.

Exit 1 if anything is wrong, a disabled module included (a sidecar with problems disables only
its module: gathers run the rest and record its collectors as failed); exit 2 when the root file
cannot be read or parsed.`,
		Example: `  wasmcollector validate
  wasmcollector validate -c /etc/wasmcollector/collectors.toml -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return Run(context.Background(), opts)
		},
	}
	cmd.Flags().VarP(&opts.Output, "output", "o", "output format: {text|json}")
	return cmd
}

// Problem is one problem (or warning) in `validate -o json`.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field"`
	Message string `json:"message"`
	// Code says what kind of problem it is (a registry.Code), for scripts to act on.
	Code string `json:"code,omitempty"`
}

func jsonProblem(p *registry.Problem) Problem {
	return Problem{File: p.File, Line: p.Line, Field: p.Field, Message: p.Message, Code: string(p.Code)}
}

// Report is the document `validate -o json` prints.
type Report struct {
	Valid      bool      `json:"valid"`
	Collectors int       `json:"collectors"`
	Modules    int       `json:"modules"`
	Problems   []Problem `json:"problems"`
	// Warnings are settings that are valid but most likely not what was meant, and files the
	// registry leaves alone (a module file nothing declares, a sidecar-like file without its
	// module); they do not make the registry invalid.
	Warnings []Problem `json:"warnings"`
	// Disabled names the modules whose sidecar has problems, whose signature does not verify
	// while [trust] requires one, or that a gather would refuse as a downgrade (signed before
	// the newest signature accepted for them); they do not run.
	Disabled []string `json:"disabled"`
	// Signatures says, for each module, who signed it; empty without [trust].
	Signatures []ModuleSignature `json:"signatures"`
	// Access is, for each module with a sidecar, what collectors.toml grants and what the
	// sidecar requests.
	Access []ModuleAccess `json:"access"`
}

// ModuleAccess is a module's grants and its sidecar's requests.
type ModuleAccess struct {
	Module    string         `json:"module"`
	Granted   cmdutil.Access `json:"granted"`
	Requested cmdutil.Access `json:"requested"`
}

// ModuleSignature is who signed a module, as Load verified it.
type ModuleSignature struct {
	Module string `json:"module"`
	// Status is verified, unsigned or invalid.
	Status string `json:"status"`
	// SignedBy says who, for people: "Acme Inc. (key 0123456789ABCDEF)".
	SignedBy string `json:"signed_by"`
	KeyID    string `json:"key_id,omitempty"`
	KeyName  string `json:"key_name,omitempty"`
}

// Run validates the registry and its modules.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	reg, err := registry.Load(f.ConfigPath)
	var problems registry.Problems
	if err != nil && !errors.As(err, &problems) {
		return cmdutil.BadInput("%w", err)
	}
	report := Report{Problems: []Problem{}, Warnings: []Problem{}, Disabled: []string{}, Access: []ModuleAccess{}, Signatures: []ModuleSignature{}}
	if reg != nil {
		for _, w := range reg.Warnings {
			report.Warnings = append(report.Warnings, jsonProblem(w))
		}
		if err == nil { // the error holds every problem; otherwise the disabled modules hold theirs
			for _, d := range reg.Disabled {
				problems = append(problems, d.Problems...)
			}
		}
		// Rollback protection, read only: what the next gather would refuse as a downgrade.
		refused, derr := registry.PendingDowngrades(reg)
		if derr != nil { // a damaged record stops gathers: say so here
			problems = append(problems, &registry.Problem{Code: registry.CodeUnreadable, File: f.ConfigPath, Field: "gather.state_dir",
				Message: "rollback protection: " + derr.Error() + " (gathers refuse to run until it is repaired or removed)"})
		}
		for _, name := range slices.Sorted(maps.Keys(refused)) {
			problems = append(problems, refused[name])
		}
		problems = append(problems, checkModules(ctx, f, reg)...)
		report.Collectors, report.Modules = len(reg.Collectors), len(reg.Modules)
		for _, d := range reg.Disabled {
			report.Disabled = append(report.Disabled, d.Name)
		}
		for _, name := range slices.Sorted(maps.Keys(refused)) {
			report.Disabled = append(report.Disabled, name)
		}
		if reg.Trust.Enabled {
			mods := append([]*registry.Module{}, reg.Modules...)
			for _, d := range reg.Disabled {
				if d.Module != nil {
					mods = append(mods, d.Module)
				}
			}
			for _, m := range mods {
				if s := m.Signature; s != nil {
					report.Signatures = append(report.Signatures, ModuleSignature{Module: m.Name, Status: s.Status, SignedBy: s.Signer(), KeyID: s.KeyID, KeyName: s.KeyName})
				}
			}
		}
		for _, m := range reg.Modules {
			if m.Sidecar != "" {
				report.Access = append(report.Access, ModuleAccess{Module: m.Name, Granted: cmdutil.Granted(m), Requested: cmdutil.Requested(m)})
			}
		}
	}
	report.Valid = len(problems) == 0
	for _, p := range problems {
		report.Problems = append(report.Problems, jsonProblem(p))
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := cmdutil.WriteJSON(f.Stdout, report); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintln(f.Stdout, p.Error())
		}
		if reg != nil {
			for _, w := range reg.Warnings {
				fmt.Fprintln(f.Stdout, "warning: "+w.Error())
			}
		}
		for _, s := range report.Signatures {
			if s.Status == registry.SignatureVerified {
				fmt.Fprintf(f.Stdout, "module %s: signed by %s\n", s.Module, s.SignedBy)
			} else {
				fmt.Fprintf(f.Stdout, "module %s: %s\n", s.Module, s.SignedBy)
			}
		}
		for _, a := range report.Access {
			fmt.Fprintf(f.Stdout, "module %s: granted %s; requested %s\n", a.Module, a.Granted, a.Requested)
		}
		for _, name := range report.Disabled {
			fmt.Fprintf(f.Stdout, "module %s: disabled, its collectors do not run (problems above)\n", name)
		}
		warnings := ""
		if n := len(report.Warnings); n > 0 {
			warnings = ", " + cmdutil.Count(n, "warning", "warnings")
		}
		if report.Valid {
			fmt.Fprintf(f.Stdout, "%s: ok (%s in %s%s)\n", f.ConfigPath, cmdutil.Count(report.Collectors, "collector", "collectors"),
				cmdutil.Count(report.Modules, "module", "modules"), warnings)
		} else {
			fmt.Fprintln(f.Stdout, cmdutil.Count(len(problems), "problem", "problems")+warnings)
		}
	}
	switch {
	case reg == nil: // the root file could not be read or parsed: as --help says, bad input
		return &cmdutil.SilentError{Code: cmdutil.ExitBadInput}
	case !report.Valid:
		return &cmdutil.SilentError{Code: cmdutil.ExitFailed}
	}
	return nil
}

// checkModules compiles and checks every module against ABI v1 and the exports its collectors
// declare. A collector function the module lacks is reported where the collector names it (a
// sidecar's file and line for a vendor's collector), once for each collector calling it: it
// fails only those collectors. A module that cannot be used at all is reported at the first
// collector that names it.
func checkModules(ctx context.Context, f *cmdutil.Factory, reg *registry.Registry) registry.Problems {
	if len(reg.Modules) == 0 {
		return nil
	}
	// Compiled where a gather would compile them: in a worker process by default, so that a
	// compile bomb costs validate nothing but the compile_timeout.
	exec, closeExec, err := executor.New(ctx, reg, f.Logger)
	if err != nil {
		return registry.Problems{{Code: registry.CodeModule, File: f.ConfigPath, Field: "runtime", Message: err.Error()}}
	}
	defer closeExec()
	var out registry.Problems
	for _, m := range reg.Modules {
		err := exec.Check(ctx, m)
		if err == nil {
			continue
		}
		if bad := executor.Functions(err); bad != nil {
			for _, c := range reg.Collectors {
				if fe := bad[c.Function]; c.Module == m && fe != nil {
					at := c.FunctionSource
					out = append(out, &registry.Problem{Code: registry.CodeNotExported, File: at.File, Line: at.Line, Field: at.Field,
						Message: fmt.Sprintf("module %s: %s", m.Name, fe.Message)})
				}
			}
			continue
		}
		var me *runtime.ModuleError
		if errors.As(err, &me) {
			err = me.Err // the field already names the module
		}
		p := &registry.Problem{Code: registry.CodeModule, File: f.ConfigPath, Field: "module " + m.Name, Message: err.Error()}
		for _, c := range reg.Collectors {
			if c.Module == m {
				p.File, p.Line = c.Source.File, c.Source.Line
				break
			}
		}
		out = append(out, p)
	}
	return out
}
