// Package fusetest checks that real FUSE mounts can run here: /dev/fuse and
// root (it is root-only on these machines). FUSE tests are the system
// tier (see internal/tier).
package fusetest

import (
	"os"
	"testing"

	"github.com/storacha/storefs/internal/tier"
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
	tier.Require(t, "FUSE", msg)
}
