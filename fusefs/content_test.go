package fusefs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/internal/testsupport/jsupload"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// uploadSet is one generated upload: its files and how it was packed.
type uploadSet struct {
	dag   *uploads.DAG
	up    *uploads.Upload
	files map[string][]byte
	links map[string]string
}

// makeUpload imports a tree every /content test reads: a file of many
// leaves over several shards, nested directories, an empty file, a
// symlink, and a HAMT directory of 300 entries.
func makeUpload(t *testing.T, seed byte, o uploads.Options, p uploads.Pack) *uploadSet {
	t.Helper()
	big := make([]byte, 1200<<10+123)
	rand.NewChaCha8([32]byte{seed}).Read(big)
	s := &uploadSet{files: map[string][]byte{
		"big.bin":         big,
		"docs/a.txt":      []byte(fmt.Sprint("a, upload ", seed)),
		"docs/deep/b.txt": bytes.Repeat([]byte{seed}, 5000),
		"docs/empty":      {},
	}, links: map[string]string{"docs/link": "deep/b.txt"}}
	for i := range 300 {
		s.files[fmt.Sprintf("many/e%03d", i)] = []byte(fmt.Sprint("entry ", i, " of upload ", seed))
	}
	var entries []uploads.Entry
	for p, d := range s.files {
		entries = append(entries, uploads.Entry{Path: p, Data: d})
	}
	for p, target := range s.links {
		entries = append(entries, uploads.Entry{Path: p, Symlink: target})
	}
	slices.SortFunc(entries, func(a, b uploads.Entry) int { return strings.Compare(a.Path, b.Path) })
	o.HAMTAbove = 100
	var err error
	if s.dag, err = uploads.Import(entries, o); err != nil {
		t.Fatal(err)
	}
	if s.up, err = p.Pack(s.dag); err != nil {
		t.Fatal(err)
	}
	return s
}

// store puts the upload's blobs, but the shards skip leaves out.
func (s *uploadSet) store(t *testing.T, st *node.Stores, skip ...int) {
	t.Helper()
	ctx := context.Background()
	for i, b := range append(append([]uploads.Blob{}, s.up.Shards...), s.up.Indexes...) {
		if slices.Contains(skip, i) {
			continue
		}
		if err := st.Blobs.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
}

// shardOf is the index of the shard holding the block of c.
func (s *uploadSet) shardOf(c cid.Cid) int {
	sl := s.up.Slices[string(c.Hash())]
	for i, b := range s.up.Shards {
		if bytes.Equal(b.Digest, sl.Shard) {
			return i
		}
	}
	return -1
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// checkTree reads every file and link of the upload under dir.
func (s *uploadSet) checkTree(t *testing.T, dir string) {
	t.Helper()
	for p, want := range s.files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || sum(got) != sum(want) {
			t.Fatalf("%s: %d bytes, %v; want %d bytes", p, len(got), err, len(want))
		}
	}
	for p, want := range s.links {
		if got, err := os.Readlink(filepath.Join(dir, p)); err != nil || got != want {
			t.Fatalf("symlink %s: %q %v, want %q", p, got, err, want)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "many"))
	if err != nil || len(ents) != 300 {
		t.Fatalf("the HAMT directory lists %d entries, %v; want 300", len(ents), err)
	}
}

// /content reads uploads in place: JS-client shards, guppy's filepack
// shards behind a placeholder index (reached by CID), a root-first CAR,
// and the real JS client's upload; a missing shard and a flipped byte
// fail the files that need them, with EIO, and nothing else.
func TestContent(t *testing.T) {
	for _, backend := range []string{"datadir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			st, flip := flippable(t, backend)
			balanced := uploads.Options{Chunk: 32 << 10, MaxLinks: 8}
			js := makeUpload(t, 1, balanced, uploads.JS(256<<10))
			guppyPack := uploads.Guppy(256<<10, 200)
			guppyPack.Framing = uploads.Filepack
			guppy := makeUpload(t, 2, uploads.Options{Chunk: 20 << 10, MaxLinks: 5, Trickle: true, PBLeaves: true}, guppyPack)
			rootFirst := uploads.JS(256 << 10)
			rootFirst.RootFirst = true
			first := makeUpload(t, 3, balanced, rootFirst)
			partial := makeUpload(t, 4, balanced, uploads.JS(256<<10))
			flipped := makeUpload(t, 5, balanced, uploads.JS(256<<10))
			golden := jsupload.Load(t)
			for _, s := range []*uploadSet{js, guppy, first, flipped} {
				s.store(t, st)
			}
			ctx := context.Background()
			for _, b := range append(append([]jsupload.Blob{}, golden.Shards...), golden.Index) {
				if err := st.Blobs.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
					t.Fatal(err)
				}
			}
			// partial lacks its first shard: the first leaves of big.bin.
			gone := 0
			partial.store(t, st, gone)
			// flipped has one byte changed in docs/a.txt's only block.
			aTxt := flipped.dag.Files["docs/a.txt"]
			sl := flipped.up.Slices[string(aTxt.Hash())]
			flip(flipped.up.Shards[flipped.shardOf(aTxt)], int64(sl.Offset+1))

			dir := mountCars(t, st)
			content := filepath.Join(dir, "content")

			ents, err := os.ReadDir(content)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, e := range ents {
				listed = append(listed, e.Name())
			}
			want := []string{js.dag.Root.String(), first.dag.Root.String(), partial.dag.Root.String(), flipped.dag.Root.String(), golden.Root.String()}
			slices.Sort(want)
			if !slices.Equal(listed, want) {
				t.Fatalf("/content lists %v, want %v (never guppy's placeholder nor its root)", listed, want)
			}

			for name, s := range map[string]*uploadSet{"js": js, "guppy": guppy, "root first": first} {
				t.Logf("%s: %d shards", name, len(s.up.Shards))
				s.checkTree(t, filepath.Join(content, s.dag.Root.String()))
			}
			for p, want := range golden.Files {
				got, err := os.ReadFile(filepath.Join(content, golden.Root.String(), p))
				if err != nil || sum(got) != want {
					t.Fatalf("the JS client's %s: %v, sha256 %s, want %s", p, err, sum(got), want)
				}
			}

			// big.bin spans shards: its xattrs say which, and ranged reads
			// anywhere in it are right.
			bigPath := filepath.Join(content, js.dag.Root.String(), "big.bin")
			shards := xattr(t, bigPath, "user.storefs.shards")
			if n := len(strings.Split(shards, ",")); n < 2 || strings.Contains(shards, "!") {
				t.Fatalf("big.bin's shards: %q", shards)
			}
			if got := xattr(t, bigPath, "user.storefs.cid"); got != js.dag.Files["big.bin"].String() {
				t.Fatalf("big.bin's cid xattr %q", got)
			}
			f, err := os.Open(bigPath)
			if err != nil {
				t.Fatal(err)
			}
			big := js.files["big.bin"]
			rng := rand.New(rand.NewPCG(1, 2))
			for range 40 {
				off := rng.IntN(len(big))
				buf := make([]byte, 1+rng.IntN(100_000))
				n, _ := f.ReadAt(buf, int64(off))
				if n != min(len(buf), len(big)-off) || !bytes.Equal(buf[:n], big[off:off+n]) {
					t.Fatalf("pread %d at %d: %d bytes, or wrong ones", len(buf), off, n)
				}
			}
			f.Close()

			// A CID located by no index is not there.
			unknown, _ := mh.Sum([]byte("nowhere"), mh.SHA2_256, -1)
			for _, p := range []string{cid.NewCidV1(cid.DagProtobuf, unknown).String(), "not-a-cid", js.dag.Root.String() + "/nope"} {
				if _, err := os.Stat(filepath.Join(content, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %v, want ENOENT", p, err)
				}
			}
			if _, err := os.Stat(filepath.Join(content, js.dag.Root.String(), "docs/a.txt/x")); !errors.Is(err, syscall.ENOTDIR) {
				t.Errorf("a path through a file: %v, want ENOTDIR", err)
			}

			// The missing shard: what needs it is EIO, still listed with its
			// size (from its root block); the rest reads.
			proot := filepath.Join(content, partial.dag.Root.String())
			pbig := filepath.Join(proot, "big.bin")
			if partial.shardOf(partial.dag.Files["big.bin"]) == gone {
				t.Fatal("the test wants big.bin's root block in a shard that is here")
			}
			if fi, err := os.Stat(pbig); err != nil || fi.Size() != int64(len(partial.files["big.bin"])) {
				t.Errorf("a file with blocks in a missing shard: stat %v", err)
			}
			if _, err := os.ReadFile(pbig); !errors.Is(err, syscall.EIO) {
				t.Errorf("a file with blocks in a missing shard: %v, want EIO", err)
			}
			if s := xattr(t, pbig, "user.storefs.shards"); !strings.Contains(s, "!"+blobstore.Name(partial.up.Shards[gone].Digest)) {
				t.Errorf("the shards of a file partly in a missing shard: %q", s)
			}
			partial.files["big.bin"] = nil
			delete(partial.files, "big.bin")
			partial.checkTree(t, proot)

			// The flipped byte: that file only.
			froot := filepath.Join(content, flipped.dag.Root.String())
			if _, err := os.ReadFile(filepath.Join(froot, "docs/a.txt")); !errors.Is(err, syscall.EIO) {
				t.Errorf("a file with a flipped byte: %v, want EIO", err)
			}
			if got, err := os.ReadFile(filepath.Join(froot, "big.bin")); err != nil || !bytes.Equal(got, flipped.files["big.bin"]) {
				t.Errorf("another file of that upload: %v", err)
			}
		})
	}
}

func xattr(t *testing.T, path, name string) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", path, name, err)
	}
	return string(buf[:n])
}

// Malformed UnixFS is a clear errno, one log line, never a hang: EIO for
// what does not decode or lies, ENOTDIR for a path through a file.
func TestContentMalformed(t *testing.T) {
	st := backends(t)["datadir"](t)
	d := uploads.Malformed()
	u, err := uploads.JS(1 << 20).Pack(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
		if err := st.Blobs.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(mountCars(t, st), "content", d.Root.String())
	names, err := readNames(root) // os.ReadDir would lstat each entry
	if err != nil || len(names) != 6 {
		t.Fatalf("the listing: %v %v", names, err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "ok.txt")); err != nil || string(got) != "fine" {
		t.Fatalf("ok.txt: %q %v", got, err)
	}
	for _, name := range []string{"garbage", "hamt100", "hamtsha"} {
		if _, err := os.Stat(filepath.Join(root, name)); !errors.Is(err, syscall.EIO) {
			t.Errorf("%s: %v, want EIO", name, err)
		}
	}
	for _, name := range []string{"deep", "liar"} {
		if _, err := os.ReadFile(filepath.Join(root, name)); !errors.Is(err, syscall.EIO) {
			t.Errorf("%s: %v, want EIO", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "ok.txt", "x")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("a path through a file: %v, want ENOTDIR", err)
	}
}

// readNames lists a directory without stat'ing its entries.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
