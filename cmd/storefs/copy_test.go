package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storacha/storefs/internal/pirinode"
	"github.com/storacha/storefs/internal/treehash"
)

// sourceNode is a data dir written as Piri writes it, with a blob whose
// bytes rotted on disk.
func sourceNode(t *testing.T) (dir, rotten string) {
	dir = t.TempDir()
	w := pirinode.DataDir(t, dir)
	w.Clean()
	data := []byte("bytes that rot on disk")
	rotten = pirinode.B32(pirinode.Digest(data))
	w.BlobAt(rotten, []byte("bytes that rot on dusk"))
	w.Allocation(pirinode.Digest(data), 1, int64(len(data)), 1900000000)
	w.Acceptance(pirinode.Digest(data), 1, int64(len(data)), 1764000000)
	w.Close()
	return dir, rotten
}

// TestCopyDataDirs: a data dir to a new one. The rotten blob is named and
// not copied, nor its records (exit 1); everything else lands under
// Piri's keys; the keystore, the journal and nothing partial; a second
// run skips all; a dry run writes nothing.
func TestCopyDataDirs(t *testing.T) {
	src, rotten := sourceNode(t)
	os.MkdirAll(filepath.Join(src, "wallet"), 0o700)
	os.WriteFile(filepath.Join(src, "wallet", "identity"), []byte("secret key"), 0o600)
	before, err := treehash.Sum(src)
	must(t, err)
	dst := filepath.Join(t.TempDir(), "new")

	dry, _, code := storefs(t, "copy", "--dry-run", "--json", src, dst)
	if code != 0 || !strings.Contains(dry, `"dry_run":true`) {
		t.Fatalf("dry run: exit %d, %s", code, dry)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a dry run made %s", dst)
	}

	out, stderr, code := storefs(t, "copy", "--json", src, dst)
	if code != 1 || !strings.Contains(stderr, rotten) || !strings.Contains(out, `"failed":3`) {
		// the blob, its allocation and its acceptance
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	if after, _ := treehash.Sum(src); after != before {
		t.Fatal("copy changed the source")
	}
	for _, p := range []string{"wallet", "egress_tracker"} {
		if _, err := os.Stat(filepath.Join(dst, p)); !os.IsNotExist(err) {
			t.Errorf("%s was copied", p)
		}
	}
	want := pirinode.Keys(t, src, nil, "")
	for k := range want {
		if strings.Contains(k, rotten) || strings.Contains(k, pirinode.B58(mustName(t, rotten))) {
			delete(want, k)
		}
	}
	got := pirinode.Keys(t, dst, nil, "")
	if !maps.Equal(got, want) {
		t.Fatalf("destination keys:\n  %s\nwant:\n  %s", strings.Join(slices.Sorted(maps.Keys(got)), "\n  "), strings.Join(slices.Sorted(maps.Keys(want)), "\n  "))
	}
	if m, _ := filepath.Glob(filepath.Join(dst, "pdp", "datastore", ".temp", "*")); len(m) != 0 {
		t.Errorf("partial files left: %v", m)
	}
	for _, f := range []string{"SHARDING", "_README"} {
		if _, err := os.Stat(filepath.Join(dst, "pdp", "datastore", f)); err != nil {
			t.Errorf("flatfs %s: %v", f, err)
		}
	}

	again, _, code := storefs(t, "copy", "--json", src, dst)
	if code != 1 || !strings.Contains(again, `"copied":0`) {
		t.Fatalf("second run: exit %d, %s", code, again)
	}
}

func mustName(t *testing.T, name string) []byte {
	d, err := parseName(name)
	must(t, err)
	return d
}
