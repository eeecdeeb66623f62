// Package fusetest checks that real FUSE mounts can run here: /dev/fuse and
// root (it is root-only on these machines). Locally a missing prerequisite
// skips the test with a message; on CI (CI=true) it fails it.
package fusetest

import (
	"os"
	"testing"
)

// Require skips or fails t when FUSE mounts cannot run.
func Require(t testing.TB) {
	t.Helper()
	msg := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		msg = "no /dev/fuse"
	} else if os.Geteuid() != 0 {
		msg = "not root (/dev/fuse is root-only here)"
	}
	if msg == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("FUSE test cannot run: " + msg)
	}
	t.Skip("FUSE test skipped: " + msg)
}
