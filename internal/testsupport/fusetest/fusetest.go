// Package fusetest checks that real FUSE mounts can run: /dev/fuse, and
// root (tests mount with mount(2) directly, which needs it). FUSE tests
// are the system tier (see internal/testsupport/tier).
package fusetest

import (
	"os"
	"testing"

	"github.com/storacha/storefs/internal/testsupport/tier"
)

// Require skips or fails t when FUSE mounts cannot run.
func Require(t testing.TB) {
	t.Helper()
	msg := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		msg = "no /dev/fuse"
	} else if os.Geteuid() != 0 {
		msg = "not root (the tests mount with mount(2), which needs root)"
	}
	tier.Require(t, "FUSE", msg)
}
