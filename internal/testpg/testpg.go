// Package testpg runs a throwaway PostgreSQL server for tests.
//
// The server is started on first use in a test binary, once, from the
// PostgreSQL binaries installed on the machine (initdb and postgres under
// /usr/lib/postgresql/<version>/bin, the highest version, or on PATH). It
// listens on 127.0.0.1 on a free port and on a unix socket, with trust
// authentication (but for the roles PasswordDSN makes) and durability
// switched off, in a temporary directory.
//
// A package that uses it must stop it when its tests end, from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testpg.Main(m)) }
//
// Main runs the tests, then stops the server and removes its directory. If
// the test binary dies without running Main to its end (a test timeout's
// panic, a kill), the server gets SIGQUIT from the kernel (a parent-death
// signal, on Linux) and exits; its temporary directory is left behind until
// the next test binary using testpg starts and removes it.
//
// When the tests run as root (initdb refuses to), initdb and postgres run as
// the postgres user, which the distribution's package creates.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	once   sync.Once
	srv    *server
	srvErr error
	dbSeq  atomic.Int64
)

// server is a running postmaster.
type server struct {
	dir    string // temporary directory: data/, the socket, postgres.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Main runs the tests of m, then stops the server if one was started, and
// returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the server, if one was started, and removes its directory.
// Main calls it; a later DSN call fails.
func Stop() error {
	once.Do(func() { srvErr = errors.New("server stopped") })
	if srv == nil {
		return nil
	}
	s := srv
	srv = nil
	srvErr = errors.New("server stopped")
	return s.stop()
}

// DSN returns a connection string for a new, empty database on the test
// server, starting the server on first use. Each call creates a database of
// its own (t_1, t_2, …), dropped when tb's test ends, so tests do not see
// each other's tables. The user is postgres, a superuser.
func DSN(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { srv, srvErr = start() })
	if srvErr != nil {
		tb.Fatalf("testpg: %v", srvErr)
	}
	name := "t_" + strconv.FormatInt(dbSeq.Add(1), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	s := srv
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("testpg: %v", err)
		}
	})
	return srv.dsn(name)
}

// ReadOnlyDSN returns a connection string for the database of dsn (a DSN
// returned by DSN) as a role of its own that may only read: LOGIN, CONNECT
// on the database, USAGE on schema public and SELECT on its tables and
// sequences, those that exist now and those the user postgres creates later.
// It is what an operator should give a data source. The role is dropped
// when tb's test ends.
func ReadOnlyDSN(tb testing.TB, dsn string) string {
	tb.Helper()
	return readOnlyRole(tb, "ReadOnlyDSN", dsn, "ro_"+dsnDatabase(dsn), "")
}

// passwordGroup is the role whose members log in over TCP only with their
// password (SCRAM); every other role is trusted.
const passwordGroup = "testpg_password"

var pwSeq atomic.Int64

// PasswordDSN is ReadOnlyDSN for a role that logs in over TCP only with
// password (any string PostgreSQL takes: spaces, quotes, backslashes, @).
// The DSN returned does not hold the password. Each call makes a role of
// its own.
func PasswordDSN(tb testing.TB, dsn, password string) string {
	tb.Helper()
	// Named like ReadOnlyDSN's roles, which tests that watch the roles
	// of the server set aside.
	role := "ro_" + dsnDatabase(dsn) + "_pw" + strconv.FormatInt(pwSeq.Add(1), 10)
	return readOnlyRole(tb, "PasswordDSN", dsn, role,
		" PASSWORD '"+strings.ReplaceAll(password, "'", "''")+"' IN ROLE "+passwordGroup)
}

// readOnlyRole creates role, a login role (with the CREATE ROLE options
// in extra) that may only read the database of dsn, dropped when tb's test
// ends, and returns its DSN.
func readOnlyRole(tb testing.TB, caller, dsn, role, extra string) string {
	tb.Helper()
	db := dsnDatabase(dsn)
	if db == "" || srv == nil {
		tb.Fatalf("testpg: %s takes a DSN that DSN returned, not %q", caller, dsn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := srv
	if err := s.execIn(ctx, db, "CREATE ROLE "+role+" LOGIN"+extra+";"+
		" GRANT CONNECT ON DATABASE "+db+" TO "+role+";"+
		" GRANT USAGE ON SCHEMA public TO "+role+";"+
		" GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role+";"+
		" GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "+role+";"+
		" ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO "+role+";"+
		" ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON SEQUENCES TO "+role); err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// DROP OWNED revokes what the role was granted in the database,
		// which DROP ROLE requires; the database may be gone already.
		s.execIn(ctx, db, "DROP OWNED BY "+role)
		if err := s.exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
			tb.Logf("testpg: %v", err)
		}
	})
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", s.port, role, db)
}

// dsnDatabase returns the dbname of a DSN that DSN returned.
func dsnDatabase(dsn string) string {
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "dbname="); ok {
			return v
		}
	}
	return ""
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, db)
}

// exec runs sql in the postgres database.
func (s *server) exec(ctx context.Context, sql string) error {
	return s.execIn(ctx, "postgres", sql)
}

// execIn runs sql in database db as the user postgres.
func (s *server) execIn(ctx context.Context, db, sql string) error {
	c, err := pgconn.Connect(ctx, s.dsn(db))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql).ReadAll()
	return err
}

// binaries finds initdb and postgres.
func binaries() (initdb, postgres string, err error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExec(i) && isExec(p) {
			return i, p, nil
		}
	}
	i, err1 := exec.LookPath("initdb")
	p, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return i, p, nil
	}
	return "", "", errors.New("PostgreSQL server binaries not found: run `make deps` (apt-get install postgresql)")
}

// version returns the major version in /usr/lib/postgresql/<v>/bin.
func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// start creates a cluster in a temporary directory and starts postgres on
// it, retrying on a new port if the one picked was taken meanwhile.
func start() (*server, error) {
	initdb, postgres, err := binaries()
	if err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := os.MkdirTemp("", "testpg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// Members of passwordGroup must give their password; the rest of
	// initdb's file trusts everyone.
	hba := filepath.Join(data, "pg_hba.conf")
	rules, err := os.ReadFile(hba)
	if err == nil {
		err = os.WriteFile(hba, append([]byte("host all +"+passwordGroup+" all scram-sha-256\n"), rules...), 0o600)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := launch(postgres, dir, cred)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.exec(ctx, "CREATE ROLE "+passwordGroup+" NOLOGIN"); err != nil {
				s.stop()
				return nil, err
			}
			return s, nil
		}
		if attempt == 3 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// ownerFile, in a server's directory, holds the pid of the test binary
// that made it.
const ownerFile = "owner.pid"

// sweepStale removes the directories of servers whose test binary died
// without stopping them (and whose postgres is gone too).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "testpg-*"))
	for _, d := range dirs {
		if alive(filepath.Join(d, ownerFile)) || alive(filepath.Join(d, "data", "postmaster.pid")) {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, ownerFile)); err == nil {
			os.RemoveAll(d)
		}
	}
}

// alive reports whether the process whose pid is on the first line of
// pidFile runs. A missing or unreadable file counts as not alive.
func alive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// credential returns the postgres user's credential, with dir handed to it,
// when running as root, and nil otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and initdb refuses to: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// launch starts postgres on a free port and waits until it accepts
// connections, for up to 30 s.
func launch(postgres, dir string, cred *syscall.Credential) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(postgres, "-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-k", dir,
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "synchronous_commit=off",
		"-c", "dynamic_shared_memory_type=mmap", // segments in the data directory
		"-c", "max_connections=50",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &server{dir: dir, port: port, cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := pgconn.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			c.Close(ctx)
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("postgres exited while starting: %v\n%s", cmd.ProcessState, tail(logPath))
		case <-ctx.Done():
			s.kill()
			return nil, fmt.Errorf("postgres did not accept connections within 30s: %v\n%s", err, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop shuts the server down (fast shutdown, then immediate, then kill) and
// removes its directory.
func (s *server) stop() error {
	var err error
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		s.cmd.Process.Signal(sig)
		select {
		case <-s.exited:
			err = nil
		case <-time.After(10 * time.Second):
			err = fmt.Errorf("postgres did not stop on %v", sig)
			continue
		}
		break
	}
	if rerr := os.RemoveAll(s.dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// tail returns the end of the server log, for errors.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
