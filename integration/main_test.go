// Package integration builds the storefs binary and uses it as an operator
// would: `storefs mount` as a child process, driven with the real ls, cat,
// dd, stat, getfattr, sha256sum and readlink.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/tier"
	"github.com/storacha/storefs/store/node"
)

var bin string // the storefs binary under test

func TestMain(m *testing.M) {
	if dir := os.Getenv("STOREFS_HOLD_DATADIR"); dir != "" {
		os.Exit(holdDataDir(dir))
	}
	dir, err := os.MkdirTemp("", "storefs-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "storefs")
	// Catalogues go in the run's temp dir, not the user's cache.
	os.Setenv("STOREFS_CATALOG_DIR", filepath.Join(dir, "catalog"))
	build := exec.Command("go", "build", "-o", bin, "../cmd/storefs")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build storefs:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTool marks t as a system-tier test that runs these programs.
func needTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		missing := ""
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool + " missing (make test-deps installs it)"
		}
		tier.Require(t, tool, missing)
	}
}

// daemon is a running `storefs mount`.
type daemon struct {
	t   *testing.T
	mnt string
	cmd *exec.Cmd
	log *bytes.Buffer

	exited  chan error
	exitErr error
	done    bool
}

// startMount runs `storefs mount ARGS… MNT` and waits until the mount
// answers. It is stopped (SIGTERM) when the test ends.
func startMount(t *testing.T, mnt string, args ...string) *daemon {
	t.Helper()
	fusetest.Require(t)
	needTool(t, "getfattr", "sha256sum", "dd")
	d := &daemon{t: t, mnt: mnt, log: &bytes.Buffer{}}
	d.cmd = exec.Command(bin, append(append([]string{"mount"}, args...), mnt)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	d.exited = exited
	t.Cleanup(func() {
		if !d.done {
			d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(10 * time.Second):
				d.cmd.Process.Kill()
				<-d.exited
			}
		}
		syscall.Unmount(mnt, syscall.MNT_DETACH) // if anything is left
		if t.Failed() {
			t.Logf("storefs log:\n%s", d.log)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !mounted(mnt) {
		select {
		case err := <-exited:
			d.exitErr, d.done = err, true
			t.Fatalf("storefs mount exited before mounting: %v\n%s", err, d.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not mounted after 15s\n%s", d.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// mounted reports whether a live storefs answers at mnt.
func mounted(mnt string) bool {
	var st unix.Statfs_t
	if unix.Statfs(mnt, &st) != nil {
		return false
	}
	out, _ := os.ReadFile("/proc/self/mountinfo")
	return bytes.Contains(out, []byte(" "+mnt+" ")) && bytes.Contains(out, []byte("fuse.storefs"))
}

// stop sends sig and waits for the daemon to exit, within limit.
func (d *daemon) stop(sig syscall.Signal, limit time.Duration) error {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.exited:
		d.exitErr, d.done = err, true
		return err
	case <-time.After(limit):
		d.t.Fatalf("storefs did not exit within %v of %v", limit, sig)
	}
	return nil
}

// toolLimit bounds every command a test runs: a hang fails, never blocks.
const toolLimit = 2 * time.Minute

// finish runs cmd to its end, killing it after toolLimit.
func finish(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(toolLimit, func() { cmd.Process.Kill() })
	defer timer.Stop()
	return cmd.Wait()
}

// run runs a command and returns its stdout; a failure fails the test.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := finish(cmd)
	out := stdout.Bytes()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// fails runs a command that must fail and returns its stderr.
func fails(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := finish(cmd); err == nil {
		t.Fatalf("%s %s succeeded", name, strings.Join(args, " "))
	}
	return stderr.String()
}

// holdDataDir opens a data dir's stores for writing and keeps them until
// stdin closes: a running Piri node, as far as locks go.
func holdDataDir(dir string) int {
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer st.Close()
	os.Stdout.WriteString("holding\n")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// holdLocks runs holdDataDir in a child process for the rest of the test.
func holdLocks(t *testing.T, dir string) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "STOREFS_HOLD_DATADIR="+dir)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
}
