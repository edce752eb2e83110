package state

import (
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLockName is the advisory lock upstream takes (upstream-behaviour.md 3.2), so a node
// running wasmcollector and one running the Python library exclude each other.
const DefaultLockName = "gather_analytics_lock"

// PGStore keeps State in PostgreSQL, shared by every node of a product that uses the same
// database, and serialises their gathers with an advisory lock (pg_try_advisory_lock) held on
// its connection for the whole gather. When the process dies the server closes the connection and
// releases the lock, so no node is ever locked out by a crashed one.
//
// The tables (wasmcollector_state, wasmcollector_entries, wasmcollector_pending,
// wasmcollector_schema) are created and
// migrated by [OpenPostgres]. Every Save is one transaction. A PGStore uses one connection and is
// safe for concurrent use; Close it when done.
type PGStore struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	lockKey int64
	name    string
	node    string
}

// schemaVersion is the version [OpenPostgres] migrates to; migrations[i] moves version i to i+1.
const schemaVersion = 3

var migrations = []string{
	// 0 → 1: the bookkeeping.
	`CREATE TABLE wasmcollector_state (
		id integer PRIMARY KEY CHECK (id = 1),
		last_gather timestamptz
	);
	CREATE TABLE wasmcollector_entries (
		key text PRIMARY KEY,
		value timestamptz NOT NULL
	)`,
	// 1 → 2: which node wrote an entry, and when, for operators reading the table.
	`ALTER TABLE wasmcollector_entries ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
	ALTER TABLE wasmcollector_entries ADD COLUMN updated_by text NOT NULL DEFAULT ''`,
	// 2 → 3: tarballs recorded before they are sent (State.Pending), in recording order.
	`CREATE TABLE wasmcollector_pending (
		position integer PRIMARY KEY,
		name text NOT NULL,
		path text NOT NULL,
		sha256 text NOT NULL,
		size bigint NOT NULL,
		shipped boolean NOT NULL,
		slices jsonb NOT NULL
	)`,
}

// pgSlice is one PendingSlice in the slices column.
type pgSlice struct {
	Key   string    `json:"key"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	Part  int       `json:"part"`
	Parts int       `json:"parts"`
}

// OpenPostgres connects to dsn, with password if it is not "", creates or migrates the tables,
// and returns the store. The password, a secret, takes the place of one in dsn; it is set on the
// parsed connection settings, not spliced into dsn, and no error quotes it. lockName names the
// advisory lock ("" = DefaultLockName); its key is derived as upstream derives it.
func OpenPostgres(ctx context.Context, dsn, password, lockName string) (*PGStore, error) {
	if lockName == "" {
		lockName = DefaultLockName
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message quotes the string, whose password it redacts only on a
		// best-effort basis: say nothing more.
		return nil, errors.New("state: invalid postgres connection string")
	}
	if password != "" {
		cfg.Password = password
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: connect to postgres: %w", err)
	}
	host, _ := os.Hostname()
	s := &PGStore{conn: conn, lockKey: LockKey(lockName), name: lockName, node: fmt.Sprintf("%s/%d", host, os.Getpid())}
	if err := s.migrate(ctx); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return s, nil
}

// LockKey derives the 64-bit advisory lock key of a lock name as upstream does: the SHA-512 hex
// digest read as an integer, modulo 2^63.
func LockKey(name string) int64 {
	sum := sha512.Sum512([]byte(name))
	n := new(big.Int).SetBytes(sum[:])
	return n.Mod(n, new(big.Int).Lsh(big.NewInt(1), 63)).Int64()
}

// migrate brings the schema to schemaVersion in one transaction, under a transaction-scoped
// advisory lock so that nodes starting together migrate once.
func (s *PGStore) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, LockKey("wasmcollector_schema")); err != nil {
			return fmt.Errorf("state: migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS wasmcollector_schema (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("state: migrate: %w", err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM wasmcollector_schema`).Scan(&version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO wasmcollector_schema (version) VALUES (0)`); err != nil {
				return fmt.Errorf("state: migrate: %w", err)
			}
		case err != nil:
			return fmt.Errorf("state: migrate: %w", err)
		case version > schemaVersion:
			return fmt.Errorf("state: the database has schema version %d; this wasmcollector knows up to %d", version, schemaVersion)
		}
		for v := version; v < schemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("state: migrate from version %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE wasmcollector_schema SET version = $1`, schemaVersion); err != nil {
			return fmt.Errorf("state: migrate: %w", err)
		}
		return nil
	})
}

// Load implements Store.
func (s *PGStore) Load(ctx context.Context) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Entries: map[string]time.Time{}}
	var last *time.Time
	err := s.conn.QueryRow(ctx, `SELECT last_gather FROM wasmcollector_state WHERE id = 1`).Scan(&last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("state: load: %w", err)
	}
	if last != nil {
		st.LastGather = last.UTC()
	}
	rows, err := s.conn.Query(ctx, `SELECT key, value FROM wasmcollector_entries`)
	if err != nil {
		return st, fmt.Errorf("state: load: %w", err)
	}
	for rows.Next() {
		var key string
		var value time.Time
		if err := rows.Scan(&key, &value); err != nil {
			return st, fmt.Errorf("state: load: %w", err)
		}
		st.Entries[key] = value.UTC()
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("state: load: %w", err)
	}
	prows, err := s.conn.Query(ctx, `SELECT name, path, sha256, size, shipped, slices FROM wasmcollector_pending ORDER BY position`)
	if err != nil {
		return st, fmt.Errorf("state: load pending: %w", err)
	}
	for prows.Next() {
		var p Pending
		var sl []pgSlice
		if err := prows.Scan(&p.Name, &p.Path, &p.SHA256, &p.Size, &p.Shipped, &sl); err != nil {
			return st, fmt.Errorf("state: load pending: %w", err)
		}
		if err := CheckPending(p); err != nil {
			return st, fmt.Errorf("state: load pending %q: %w", p.Name, err)
		}
		for _, x := range sl {
			p.Slices = append(p.Slices, PendingSlice{Key: x.Key, Since: x.Since.UTC(), Until: x.Until.UTC(), Part: x.Part, Parts: x.Parts})
		}
		st.Pending = append(st.Pending, p)
	}
	if err := prows.Err(); err != nil {
		return st, fmt.Errorf("state: load pending: %w", err)
	}
	return st, nil
}

// Save implements Store: one transaction replaces the last gather, the entries and the pending
// tarballs.
func (s *PGStore) Save(ctx context.Context, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		var last any
		if !st.LastGather.IsZero() {
			last = st.LastGather
		}
		if _, err := tx.Exec(ctx, `INSERT INTO wasmcollector_state (id, last_gather) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET last_gather = EXCLUDED.last_gather`, last); err != nil {
			return err
		}
		keys := make([]string, 0, len(st.Entries))
		for k, v := range st.Entries {
			keys = append(keys, k)
			if _, err := tx.Exec(ctx, `INSERT INTO wasmcollector_entries (key, value, updated_at, updated_by)
				VALUES ($1, $2, now(), $3)
				ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by
				WHERE wasmcollector_entries.value IS DISTINCT FROM EXCLUDED.value`, k, v, s.node); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wasmcollector_entries WHERE NOT (key = ANY($1))`, keys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wasmcollector_pending`); err != nil {
			return err
		}
		for i, p := range st.Pending {
			sl := make([]pgSlice, 0, len(p.Slices))
			for _, x := range p.Slices {
				sl = append(sl, pgSlice{Key: x.Key, Since: x.Since.UTC(), Until: x.Until.UTC(), Part: x.Part, Parts: x.Parts})
			}
			if _, err := tx.Exec(ctx, `INSERT INTO wasmcollector_pending (position, name, path, sha256, size, shipped, slices)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, i, p.Name, p.Path, p.SHA256, p.Size, p.Shipped, sl); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: save: %w", err)
	}
	return nil
}

// TryLock implements Locker with pg_try_advisory_lock on the store's connection: the lock lasts
// until unlock, or until the connection dies.
func (s *PGStore) TryLock(ctx context.Context) (func() error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ok bool
	if err := s.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, s.lockKey).Scan(&ok); err != nil {
		return nil, fmt.Errorf("state: take the cluster lock %q: %w", s.name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: the cluster lock %q (another node is gathering)", ErrLocked, s.name)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, err = s.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, s.lockKey)
		})
		return err
	}, nil
}

// Close closes the connection, which releases the lock if it is still held.
func (s *PGStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn.Close(context.Background())
}
