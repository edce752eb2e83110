// Package signcmd implements `wasmcollector keygen`, `sign` and `verify`: a vendor's key pair,
// the detached signature of a module and its sidecar, and its check, in minisign's formats
// (internal/signature).
package signcmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wasmcollector/wasmcollector/internal/cli/cmdutil"
	"github.com/wasmcollector/wasmcollector/internal/signature"
	"github.com/wasmcollector/wasmcollector/registry"
)

// passwordFlags say where the secret key's password is.
type passwordFlags struct {
	env, file string
}

func (p *passwordFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.env, "password-env", "", "read the secret key's password from this environment `variable` (for CI)")
	cmd.Flags().StringVar(&p.file, "password-file", "", "read the secret key's password from this `file` (its first line)")
}

// get returns the password: from --password-env or --password-file, else asked on the
// terminal (twice when confirm). what says what it is for, in the error without one.
func (p *passwordFlags) get(f *cmdutil.Factory, confirm bool, what string) (string, error) {
	switch {
	case p.env != "" && p.file != "":
		return "", cmdutil.UsageError(errors.New("give --password-env or --password-file, not both"))
	case p.env != "":
		pw := os.Getenv(p.env)
		if pw == "" {
			return "", cmdutil.BadInput("--password-env: environment variable %s is unset or empty", p.env)
		}
		return pw, nil
	case p.file != "":
		data, err := os.ReadFile(p.file)
		if err != nil {
			return "", cmdutil.BadInput("--password-file: %w", err)
		}
		pw, _, _ := strings.Cut(string(data), "\n")
		if pw = strings.TrimSuffix(pw, "\r"); pw == "" {
			return "", cmdutil.BadInput("--password-file: %s holds no password on its first line", p.file)
		}
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", cmdutil.BadInput("%s needs a password and there is no terminal to ask on: give --password-env or --password-file", what)
	}
	fmt.Fprint(f.Stderr, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(f.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return "", cmdutil.BadInput("empty password (keygen --unencrypted makes a key without one)")
	}
	if confirm {
		fmt.Fprint(f.Stderr, "Password (again): ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(f.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", cmdutil.BadInput("the passwords differ")
		}
	}
	return string(pw), nil
}

// now is the factory's clock, else time.Now.
func now(f *cmdutil.Factory) time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// NewCmdKeygen returns the keygen command.
func NewCmdKeygen(f *cmdutil.Factory) *cobra.Command {
	var (
		pubPath, keyPath string
		unencrypted      bool
		force            bool
		pw               passwordFlags
	)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a key pair to sign modules with (minisign format)",
		Long: `Make an Ed25519 key pair in minisign's formats, for a vendor to sign modules with
(wasmcollector sign). The public key goes to operators, who list it in collectors.toml:

  [[trust.keys]]
  name = "Your company"
  pattern = "yourmodule*"
  key = "RW…"          # the second line of the .pub file

The secret key is encrypted with a password (scrypt, as minisign does; this takes a few
seconds), asked on the terminal or read from --password-env / --password-file; --unencrypted
leaves it in clear, as minisign -W does. minisign itself can use both files.`,
		Example: `  wasmcollector keygen --pub acme.pub --key acme.key
  ACME_KEY_PASSWORD=… wasmcollector keygen --key acme.key --password-env ACME_KEY_PASSWORD`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !force {
				for _, p := range []string{pubPath, keyPath} {
					if _, err := os.Lstat(p); err == nil {
						return cmdutil.BadInput("%s exists; --force replaces it", p)
					}
				}
			}
			password := ""
			if !unencrypted {
				var err error
				if password, err = pw.get(f, true, "an encrypted secret key (without --unencrypted)"); err != nil {
					return err
				}
			}
			pub, pubFile, secFile, err := signature.GenerateKey(password)
			if err != nil {
				return cmdutil.Failed(err)
			}
			if err := writeFile(keyPath, secFile, 0o600); err != nil {
				return err
			}
			if err := writeFile(pubPath, pubFile, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(f.Stdout, "key %s: public key %s, secret key %s%s\npublic key for collectors.toml: key = %q\n",
				signature.KeyID(pub.ID()), pubPath, keyPath, map[bool]string{true: " (unencrypted)", false: ""}[unencrypted], pub.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&pubPath, "pub", "wasmcollector.pub", "where to write the public key `file`")
	cmd.Flags().StringVar(&keyPath, "key", "wasmcollector.key", "where to write the secret key `file` (mode 0600)")
	cmd.Flags().BoolVar(&unencrypted, "unencrypted", false, "write the secret key without a password (as minisign -W)")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing key files")
	pw.add(cmd)
	return cmd
}

// writeFile replaces path with data, through a temporary file beside it.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return cmdutil.Failed(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return cmdutil.Failed(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return cmdutil.Failed(err)
	}
	if err := tmp.Close(); err != nil {
		return cmdutil.Failed(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return cmdutil.Failed(err)
	}
	return nil
}

// NewCmdSign returns the sign command.
func NewCmdSign(f *cmdutil.Factory) *cobra.Command {
	var (
		keyPath string
		pw      passwordFlags
	)
	cmd := &cobra.Command{
		Use:   "sign MODULE.wasm --key KEY",
		Short: "Sign a module and its sidecar (writes MODULE.wasm.minisig)",
		Long: `Sign MODULE.wasm and its sidecar MODULE.toml beside it (if there is one) with a minisign
secret key, writing the detached signature MODULE.wasm.minisig beside the module: ship the
three files together. The signature is minisign's, over the module's bytes; its trusted
comment, which the signature covers too, carries the sidecar's sha256, so that a changed
module or sidecar fails verification (wasmcollector verify, and an operator's registry with
[trust]). minisign -Vm MODULE.wasm -p KEY.pub verifies it too.`,
		Example: `  wasmcollector sign build/awx.wasm --key acme.key
  wasmcollector sign build/awx.wasm --key acme.key --password-env ACME_KEY_PASSWORD`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if keyPath == "" {
				return cmdutil.UsageError(errors.New("--key is required: the secret key file (wasmcollector keygen makes one)"))
			}
			modPath := args[0]
			secret, err := os.ReadFile(keyPath)
			if err != nil {
				return cmdutil.BadInput("--key: %w", err)
			}
			password := ""
			if signature.IsEncrypted(secret) {
				if password, err = pw.get(f, false, "the secret key "+keyPath); err != nil {
					return err
				}
			}
			key, err := signature.ParsePrivateKey(secret, password)
			if err != nil {
				return cmdutil.BadInput("--key %s: %w", keyPath, err)
			}
			module, err := os.ReadFile(modPath)
			if err != nil {
				return cmdutil.BadInput("module: %w", err)
			}
			sidePath := signature.SidecarPath(modPath)
			sidecar, err := os.ReadFile(sidePath)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				sidecar = nil
			case err != nil:
				return cmdutil.BadInput("sidecar: %w", err)
			}
			sig, err := signature.Sign(key, module, sidecar, modPath, now(f))
			if err != nil {
				return cmdutil.BadInput("%w", err)
			}
			if err := writeFile(modPath+signature.Suffix, sig, 0o644); err != nil {
				return err
			}
			covers := "no sidecar"
			if sidecar != nil {
				covers = "sidecar " + filepath.Base(sidePath)
			}
			fmt.Fprintf(f.Stdout, "signed %s and %s with key %s: %s\n", filepath.Base(modPath), covers, signature.KeyID(key.ID()), modPath+signature.Suffix)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "the minisign secret key `file`")
	pw.add(cmd)
	return cmd
}

// NewCmdVerify returns the verify command.
func NewCmdVerify(f *cmdutil.Factory) *cobra.Command {
	var pubPath string
	cmd := &cobra.Command{
		Use:   "verify MODULE.wasm [--pub KEY.pub]",
		Short: "Verify a module's signature (and its sidecar's)",
		Long: `Verify MODULE.wasm.minisig: that MODULE.wasm and its sidecar MODULE.toml are the ones signed,
by the public key --pub names, or without --pub by a key collectors.toml's [trust] table
trusts for the module (its name relative to modules_dir when it lies there, else its file
name), as a gather would. Prints who signed; exit 1 with why when it does not verify.`,
		Example: `  wasmcollector verify awx.wasm --pub acme.pub
  wasmcollector verify -c /etc/wasmcollector/collectors.toml /var/lib/wasmcollector/modules/awx.wasm`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			modPath := args[0]
			var keys []signature.TrustedKey
			name := filepath.Base(modPath)
			if pubPath != "" {
				pub, err := signature.ReadPublicKey(pubPath)
				if err != nil {
					return cmdutil.BadInput("--pub: %w", err)
				}
				keys = []signature.TrustedKey{{Name: pubPath, Key: pub}}
			} else {
				var err error
				if keys, name, err = registryKeys(f, modPath); err != nil {
					return err
				}
			}
			files, err := signature.ReadFiles(modPath, name)
			if err != nil {
				return cmdutil.BadInput("%w", err)
			}
			res, err := signature.Verify(files.Input, keys, now(f))
			if err != nil {
				return cmdutil.Failed(fmt.Errorf("%s: %w", modPath, err))
			}
			covers := "no sidecar"
			if files.Sidecar != nil {
				covers = fmt.Sprintf("sidecar %s (sha256 %s)", files.SidecarName, files.SidecarSHA256)
			}
			when := ""
			if !res.Claims.Time.IsZero() {
				when = ", signed " + res.Claims.Time.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(f.Stdout, "%s: good signature by %s%s; covers the module (sha256 %s) and %s\n", modPath, res.Signer(), when, files.ModuleSHA256, covers)
			return nil
		},
	}
	cmd.Flags().StringVar(&pubPath, "pub", "", "the minisign public key `file` to verify with; default: collectors.toml's [trust] keys")
	return cmd
}

// registryKeys returns the keys the registry trusts and the module's name as the registry
// knows it.
func registryKeys(f *cmdutil.Factory, modPath string) ([]signature.TrustedKey, string, error) {
	reg, err := registry.Load(f.ConfigPath)
	if reg == nil {
		return nil, "", cmdutil.BadInput("%w", err)
	}
	if !reg.Trust.Enabled || len(reg.Trust.Keys) == 0 {
		return nil, "", cmdutil.BadInput("%s trusts no key ([trust] with [[trust.keys]]): give --pub", f.ConfigPath)
	}
	keys := make([]signature.TrustedKey, 0, len(reg.Trust.Keys))
	for _, k := range reg.Trust.Keys {
		pub, err := signature.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, "", cmdutil.BadInput("[trust.keys] %s: %w", k.Name, err)
		}
		keys = append(keys, signature.TrustedKey{Name: k.Name, Pattern: k.Pattern, Key: pub, Expires: k.Expires})
	}
	name := filepath.Base(modPath)
	if abs, err := filepath.Abs(modPath); err == nil {
		if rel, err := filepath.Rel(reg.Runtime.ModulesDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			name = filepath.ToSlash(rel)
		}
	}
	return keys, name, nil
}
