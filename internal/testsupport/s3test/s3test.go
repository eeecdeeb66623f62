// Package s3test runs a real S3-compatible server (versitygw, posix backend)
// on 127.0.0.1 for tests: a process per caller, on a free port, over a temp
// dir, stopped when the test ends.
//
// The binary comes from $STOREFS_VERSITYGW, the repo's .tools/bin (where
// `make test` installs it) or PATH. When it is missing the test skips with a
// message, except on CI (CI=true), where it fails. S3 tests are the
// system tier: they run with STOREFS_SYSTEM_TESTS=1 (internal/testsupport/tier).
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/storacha/storefs/internal/testsupport/tier"
)

const (
	AccessKey = "storefs-test-access"
	SecretKey = "storefs-test-secret-do-not-log"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // 127.0.0.1:PORT
	DataDir   string // the posix backend's root: one directory per bucket
	log       string
	keepAlive bool
	// Region is the server's region (Region unless WithRegion).
	Region string
	t      testing.TB
	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary finds versitygw ($STOREFS_VERSITYGW, .tools/bin, $PATH), or
// returns "".
func Binary() string { return tier.Tool("STOREFS_VERSITYGW", "versitygw") }

// Require marks t as an S3 test (the system tier, see internal/testsupport/tier):
// it skips, or fails on CI, when versitygw is missing.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	msg := ""
	if bin == "" {
		msg = "versitygw not found (run `make test-deps`, or set STOREFS_VERSITYGW)"
	}
	tier.Require(t, "S3", msg)
	return bin
}

// Option configures Start.
type Option func(*Server)

// KeepAlive turns on versitygw's HTTP keep-alive (off by default: with it,
// v1.8.0 mishandles zero-byte streaming-signed PUTs). storefs sends
// unsigned payloads, so benchmarks use it.
func KeepAlive() Option { return func(s *Server) { s.keepAlive = true } }

// WithRegion runs the server in another region than Region: clients that
// sign for the wrong one are refused.
func WithRegion(region string) Option { return func(s *Server) { s.Region = region } }

// Start runs a server for the rest of the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, bin: Require(t), DataDir: t.TempDir(), Region: Region}
	for _, o := range opts {
		o(s)
	}
	s.log = filepath.Join(t.TempDir(), "versitygw.log")
	port, err := freePort()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	s.Endpoint = "127.0.0.1:" + strconv.Itoa(port)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if out, err := os.ReadFile(s.log); err == nil && len(out) > 0 {
				t.Logf("versitygw output:\n%s", out)
			}
		}
	})
	s.start()
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() {
	s.t.Helper()
	args := []string{"--port", s.Endpoint, "--region", s.Region, "--quiet"}
	if s.keepAlive {
		args = append(args, "--keep-alive")
	}
	cmd := exec.Command(s.bin, append(args, "posix", s.DataDir)...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatalf("s3test: %v", err)
	}
	defer logFile.Close()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("s3test: start %s: %v", s.bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(exited chan struct{}) { cmd.Wait(); close(exited) }(s.exited)
	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		s.t.Fatalf("s3test: versitygw on %s: %v", s.Endpoint, err)
	}
}

// waitReady polls a signed ListBuckets until it answers.
func (s *Server) waitReady(limit time.Duration) error {
	c := s.Client()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client is a plain minio-go client for test set-up and inspection.
func (s *Server) Client() *minio.Client {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		s.t.Fatalf("s3test: client: %v", err)
	}
	return c
}

// MakeBucket creates a bucket or fails the test.
func (s *Server) MakeBucket(name string) {
	s.t.Helper()
	if err := s.Client().MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		s.t.Fatalf("s3test: make bucket %s: %v", name, err)
	}
}

// Stop kills the server and waits for it. Safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case a test paused it
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Pause stops the server with SIGSTOP: connections hang rather than fail.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }
