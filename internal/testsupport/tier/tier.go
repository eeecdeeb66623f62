// Package tier names the test tiers. Unit tests need no root, no kernel
// mount and no S3 server: `go test ./...` (make test-unit) runs them as any
// user. The system tier — real FUSE mounts, a real S3 server, mount(8) —
// runs only with STOREFS_SYSTEM_TESTS=1, which make test sets after
// installing what it needs.
//
// With the tier off its tests skip, saying so. With it on, a missing
// prerequisite skips locally and fails on CI (CI=true): a green CI run
// that skipped them would prove nothing.
package tier

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Env turns the system tier on.
const Env = "STOREFS_SYSTEM_TESTS"

// On reports whether the system tier runs.
func On() bool { return os.Getenv(Env) == "1" }

// Require marks t as a system-tier test that needs what; missing, when
// not empty, says why it cannot run here.
func Require(t testing.TB, what, missing string) {
	t.Helper()
	if !On() {
		t.Skipf("%s test: system tier off (%s=1 runs it; make test does)", what, Env)
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s test cannot run: %s (CI runs the system tier whole)", what, missing)
	}
	t.Skipf("%s test skipped: %s", what, missing)
}

// Tool finds a test server's binary: $env when set, else .tools/bin/name
// in the module (make test-deps builds it there), else name on $PATH;
// "" when none.
func Tool(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, ".tools", "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil || filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}
