package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// storefs cat writes files by CID or root/path, verified; it names what
// fails (a CID not located, a shard this node lacks, a directory) and
// exits 1 after writing the rest.
func TestCat(t *testing.T) {
	dir, d, u := uploadDataDir(t)
	backend := []string{"--data-dir", dir, "--catalog-dir", t.TempDir()}
	root := d.Root.String()
	if _, stderr, code := storefs(t, append(append([]string{"cat"}, backend...), root+"/b.txt")...); code != 1 || !strings.Contains(stderr, "storefs catalog builds it") {
		t.Fatalf("cat before a catalogue: exit %d: %s", code, stderr)
	}
	if _, stderr, code := storefs(t, append([]string{"catalog"}, backend...)...); code != 0 {
		t.Fatalf("catalog: %s", stderr)
	}
	a := uploadedA()
	for _, args := range [][]string{{root + "/a.bin"}, {"/ipfs/" + root + "/a.bin"}, {d.Files["a.bin"].String()}, {root + "/b.txt", root + "//a.bin"}} {
		out, stderr, code := storefs(t, append(append([]string{"cat"}, backend...), args...)...)
		want := a
		if len(args) == 2 {
			want = append([]byte("bee"), a...)
		}
		if code != 0 || !bytes.Equal([]byte(out), want) {
			t.Fatalf("cat %v: exit %d, %d bytes: %s", args, code, len(out), stderr)
		}
	}
	unknown, _ := mh.Sum([]byte("nowhere"), mh.SHA2_256, -1)
	uc := cid.NewCidV1(cid.Raw, unknown).String()
	out, stderr, code := storefs(t, append(append([]string{"cat"}, backend...), uc, root, root+"/nope", root+"/b.txt")...)
	if code != 1 || out != "bee" || !strings.Contains(stderr, uc) || !strings.Contains(stderr, "not located") ||
		!strings.Contains(stderr, "a directory, not a file") || !strings.Contains(stderr, root+"/nope: \"nope\": no such entry") {
		t.Fatalf("cat of what is not there: exit %d, %q:\n%s", code, out, stderr)
	}
	if _, _, code := storefs(t, append(append([]string{"cat"}, backend...), "not-a-cid/x")...); code != 2 {
		t.Fatalf("cat of nonsense: exit %d, want 2", code)
	}

	// A shard gone from the node: cat names it.
	shard := u.Shards[0]
	var gone string
	filepath.WalkDir(node.BlobDir(dir), func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(e.Name(), blobstore.Name(shard.Digest)) {
			gone = p
		}
		return nil
	})
	must(t, os.Remove(gone))
	if _, stderr, code := storefs(t, append([]string{"catalog"}, backend...)...); code != 0 {
		t.Fatalf("catalog: %s", stderr)
	}
	_, stderr, code = storefs(t, append(append([]string{"cat"}, backend...), root+"/a.bin")...)
	if code != 1 || !strings.Contains(stderr, "in shard "+blobstore.Name(shard.Digest)+", which this node does not have") {
		t.Fatalf("cat of a file in a missing shard: exit %d: %s", code, stderr)
	}
}
