package storefs_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/storacha/storefs/"

// forbidden are the arrows between packages that must never exist
// (docs/development.md draws the ones that do): from packages matching
// the first prefix, no import (direct or not) of one matching the second.
var forbidden = []struct{ from, to, why string }{
	{"fusefs", "store/keystore", "the mount never reaches the keystore"},
	{"readstack", "store/keystore", "the mount never reaches the keystore"},
	{"store/", "fusefs", "storage never imports FUSE"},
	{"store/", "github.com/hanwen/go-fuse", "storage never imports FUSE"},
	{"store/", "readstack", "storage is below the read stack"},
	{"store/", "engine/", "storage never imports a command's engine"},
	{"store/", "cmd/", "storage never imports a command"},
	{"store/", "mountopts", "storage never imports the settings"},
	{"readstack", "fusefs", "the read stack knows nothing of FUSE"},
	{"readstack", "github.com/hanwen/go-fuse", "the read stack knows nothing of FUSE"},
	{"engine/", "fusefs", "an engine does not need the mount"},
	{"engine/", "cmd/", "an engine does not import a command"},
	{"fusefs", "engine/", "the mount does not run a command's engine"},
	{"internal/helpers/", "fusefs", "helpers are below the packages that use them"},
	{"content/", "fusefs", "reading uploads knows nothing of FUSE"},
	{"content/", "github.com/hanwen/go-fuse", "reading uploads knows nothing of FUSE"},
	{"content/", "store/keystore", "the mount never reaches the keystore"},
	{"content/unixfs", "github.com/ipfs/boxo", "the UnixFS reader shares nothing with the tests' importer"},
	{"store/", "content/", "storage is below what reads uploads"},
	{"readstack", "content/", "the read stack is below what reads uploads"},
}

// TestArrows: no package imports, even through others, what its layer
// must not (test code aside), and only tests and tools/ import test
// support.
func TestArrows(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue // a dependency's own line
		}
		for _, dep := range fields[1:] {
			local, mine := strings.CutPrefix(dep, module)
			for _, f := range forbidden {
				target := local
				if !mine {
					target = dep
				}
				if strings.HasPrefix(pkg, f.from) && strings.HasPrefix(target, f.to) {
					t.Errorf("%s imports %s: %s", pkg, dep, f.why)
				}
			}
			if mine && strings.HasPrefix(local, "internal/testsupport/") && !strings.HasPrefix(pkg, "internal/testsupport/") && !strings.HasPrefix(pkg, "tools/") {
				t.Errorf("%s imports %s: only tests (and tools/, which make their data) use test support", pkg, dep)
			}
		}
	}
}
