package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gofrs/flock"
)

// File names of the signing record inside FileStore.Dir.
const (
	signedFile     = "signatures.json"
	signedLockFile = "signatures.lock"
	signedVersion  = 1
)

// signedFormat is signatures.json:
//
//	{"version": 1, "modules": {"awx.wasm": "2026-11-20T10:00:00Z"}}
type signedFormat struct {
	Version *int              `json:"version"`
	Modules map[string]string `json:"modules"`
}

// SigningTimes reads Dir/signatures.json: for each module name, the signing time of the newest
// signature a gather or serve has accepted for it (rollback protection, see
// registry.CheckDowngrades). A missing file is an empty map; a damaged one is an error naming
// the file, never an empty map, so that a damaged record cannot switch the protection off.
func (s *FileStore) SigningTimes() (map[string]time.Time, error) {
	name := filepath.Join(s.Dir, signedFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: read %s: %w", name, unwrapPath(err))
	}
	m, err := decodeSigned(data)
	if err != nil {
		return nil, fmt.Errorf("state: read %s: %w", name, err)
	}
	return m, nil
}

func decodeSigned(data []byte) (map[string]time.Time, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f signedFormat
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err, data)
	}
	if f.Version == nil || *f.Version != signedVersion {
		return nil, fmt.Errorf(`want "version": %d`, signedVersion)
	}
	m := make(map[string]time.Time, len(f.Modules))
	for _, k := range slices.Sorted(maps.Keys(f.Modules)) {
		t, err := parseTime(f.Modules[k])
		if err != nil {
			return nil, fmt.Errorf("modules[%q]: %w", k, err)
		}
		m[k] = t
	}
	return m, nil
}

// UpdateSigningTimes changes Dir/signatures.json under an exclusive lock of its own
// (Dir/signatures.lock, waited for: gathers and serve's reloads both write it, and neither holds
// the gather lock throughout): update gets the record as it is and changes it in place; the
// result replaces the file atomically, as Save replaces state.json. Nothing is written when
// update returns an error or changes nothing.
func (s *FileStore) UpdateSigningTimes(update func(map[string]time.Time) error) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("state: signing record: %w", err)
	}
	lockName := filepath.Join(s.Dir, signedLockFile)
	fl := flock.New(lockName, flock.SetPermissions(0o600))
	if err := fl.Lock(); err != nil {
		return fmt.Errorf("state: lock %s: %w", lockName, unwrapPath(err))
	}
	defer fl.Unlock()
	m, err := s.SigningTimes()
	if err != nil {
		return err
	}
	before := maps.Clone(m)
	if err := update(m); err != nil {
		return err
	}
	if maps.EqualFunc(before, m, time.Time.Equal) {
		return nil
	}
	version := signedVersion
	f := signedFormat{Version: &version, Modules: make(map[string]string, len(m))}
	for k, t := range m {
		v, err := formatTime(t)
		if err != nil {
			return fmt.Errorf("state: signing record: modules[%q]: %w", k, err)
		}
		f.Modules[k] = v
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("state: signing record: %w", err)
	}
	name := filepath.Join(s.Dir, signedFile)
	if err := s.writeAtomic(name, append(data, '\n')); err != nil {
		return fmt.Errorf("state: save %s: %w", name, err)
	}
	return nil
}
