// Package pgtest runs a real PostgreSQL server (Debian's postgresql
// package) for a test: a fresh cluster in a temp dir, on a free port of
// 127.0.0.1, a password-authenticated user, stopped when the test ends.
// It is of the system tier: make test installs postgresql.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/storacha/storefs/internal/testsupport/tier"
	"github.com/storacha/storefs/store/pgread"
)

// Server is a running PostgreSQL server.
type Server struct {
	// URL connects as the test user, without the password (give it as
	// PGPASSWORD or a password file, as an operator would).
	URL      string
	Password string
}

// binDir finds the newest installed server's binaries.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// Start starts a server for t, or skips (fails on CI) without one.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	missing := ""
	if bin == "" {
		missing = "no PostgreSQL server (apt-get install postgresql; make test-deps does)"
	}
	tier.Require(t, "PostgreSQL", missing)

	dir, err := os.MkdirTemp("", "storefs-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The server refuses to run as root: as root, run it as postgres.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running PostgreSQL as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	cmd := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		c.Env = append(os.Environ(), "LC_ALL=C")
		return c
	}
	pw := make([]byte, 12)
	rand.Read(pw)
	s := &Server{Password: hex.EncodeToString(pw)}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	if out, err := cmd("initdb", "-D", data, "-U", "storefs", "--auth=scram-sha-256", "--pwfile="+pwfile, "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	port := freePort(t)
	srv := cmd("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		os.Chown(logf.Name(), int(cred.Uid), int(cred.Gid))
	}
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
	})
	s.URL = fmt.Sprintf("postgres://storefs@127.0.0.1:%d/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://storefs:%s@127.0.0.1:%d/postgres?sslmode=disable", s.Password, port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; ; i++ {
		if err = db.Ping(); err == nil {
			break
		}
		if i == 300 {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("postgres did not answer in 30 s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// DB connects as the test user.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	u := s.URLWithPassword()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// URLWithPassword is URL with the password in it (for test writers only).
func (s *Server) URLWithPassword() string {
	return "postgres://storefs:" + s.Password + "@" + s.URL[len("postgres://storefs@"):]
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Statement is a statement written for SQLite, for PostgreSQL: ? become
// $1, $2, … and INSERT OR IGNORE an INSERT … ON CONFLICT DO NOTHING.
func Statement(q string) string {
	if strings.Contains(q, "INSERT OR IGNORE") {
		q = strings.Replace(q, "INSERT OR IGNORE", "INSERT", 1) + " ON CONFLICT DO NOTHING"
	}
	return pgread.Rebind(q)
}
