package fusefs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore"
)

// TestListingAnswersAttributes: a listing that carries sizes (memory, S3)
// answers READDIRPLUS, so `ls -l` costs no LOOKUP per entry. Past the
// inode bound it hands out names only, whose LOOKUPs cost no backend
// request, and the kernel's FORGETs give the room back. Sizes are kept
// only for names handed out without a node.
func TestListingAnswersAttributes(t *testing.T) {
	fusetest.Require(t)
	const n = 300
	var blobs [][]byte
	for i := range n {
		blobs = append(blobs, bytes.Repeat([]byte{byte(i), byte(i >> 8)}, i+1))
	}
	st, digests := memoryBlobs(t, blobs...)
	sizes := map[string]int64{}
	for i, d := range digests {
		sizes[blobstore.Name(d)] = int64(len(blobs[i]))
	}
	lsl := func(t *testing.T, dir string) {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != n {
			t.Fatalf("listed %d blobs, want %d", len(entries), n)
		}
		for _, e := range entries {
			fi, err := os.Lstat(filepath.Join(dir, "blobs", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != sizes[e.Name()] {
				t.Fatalf("%s: size %d, want %d", e.Name(), fi.Size(), sizes[e.Name()])
			}
		}
	}

	t.Run("attributes", func(t *testing.T) {
		dir, root, m := mountWithMetrics(t, st, 0)
		before := lookupsOfBlobs(t, dir, m)
		lsl(t, dir)
		if got := m.FuseOps("lookup") - before; got != 0 {
			t.Errorf("ls -l sent %d lookups, want 0", got)
		}
		if got := root.LiveBlobs(); got != n {
			t.Errorf("%d blob inodes, want %d", got, n)
		}
		if got := root.RememberedSizes(); got != 0 {
			t.Errorf("%d listed sizes kept beside the nodes that hold them", got)
		}
		// Dropping the kernel's dentry cache makes it forget the inodes.
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			t.Fatalf("drop_caches: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for root.LiveBlobs() == n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := root.LiveBlobs(); got >= n {
			t.Errorf("after the kernel dropped its cache: %d blob inodes, want fewer than %d", got, n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		const limit = 100
		blobs := &counting{Store: st.Blobs}
		m := metrics.New()
		root := newRoot(t, fusefs.Stores{Blobs: blobs, Stores: st.Stores}, fusefs.Config{Log: testLog(t), Metrics: m})
		root.SetPlusLimit(limit)
		dir := mountRoot(t, root)
		before := lookupsOfBlobs(t, dir, m)
		lsl(t, dir)
		if got := m.FuseOps("lookup") - before; got < n-limit || got > n {
			t.Errorf("ls -l past the bound sent %d lookups, want %d..%d", got, n-limit, n)
		}
		if gets, _, stats := blobs.reset(); len(gets)+stats != 0 {
			t.Errorf("lookups of listed names sent %d GETs and %d stats to the backend, want none", len(gets), stats)
		}
		if got := root.RememberedSizes(); got < n-limit || got > n {
			t.Errorf("%d listed sizes kept, want those of the %d names without a node", got, n-limit)
		}
	})
}

// lookupsOfBlobs looks /blobs itself up, and returns the lookups counted
// so far: what a listing adds is counted from there.
func lookupsOfBlobs(t *testing.T, dir string, m *metrics.Metrics) uint64 {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	return m.FuseOps("lookup")
}

// memoryBlobs is a memory store holding blobs, and their multihashes.
func memoryBlobs(t *testing.T, blobs ...[]byte) (*node.Stores, []mh.Multihash) {
	t.Helper()
	ctx := context.Background()
	st, err := node.Open(ctx, node.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var digests []mh.Multihash
	for _, b := range blobs {
		d, _ := mh.Sum(b, mh.SHA2_256, -1)
		if err := st.Blobs.Put(ctx, d, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	return st, digests
}

// mountWithMetrics mounts st; plusLimit > 0 lowers the READDIRPLUS bound.
func mountWithMetrics(t *testing.T, st *node.Stores, plusLimit int64) (string, *fusefs.Root, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	root := newRoot(t, fusefs.Stores{Blobs: st.Blobs, Stores: st.Stores}, fusefs.Config{Log: testLog(t), Metrics: m})
	if plusLimit > 0 {
		root.SetPlusLimit(plusLimit)
	}
	return mountRoot(t, root), root, m
}

// TestLookupReadsTheHead: looking up a blob that was not listed GETs its
// head instead of its metadata, so open + first read cost one request;
// an empty blob (no head to GET) still gets its size.
func TestLookupReadsTheHead(t *testing.T) {
	fusetest.Require(t)
	data := bytes.Repeat([]byte("storefs head "), 10000) // 130 KB
	st, digests := memoryBlobs(t, data, nil)
	big, empty := digests[0], digests[1]
	blobs := &counting{Store: st.Blobs}
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: blobs}, fusefs.Config{Log: testLog(t)}))

	f, err := os.Open(filepath.Join(dir, "blobs", blobstore.Name(big)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[:4096]) {
		t.Fatalf("first read: %v", err)
	}
	f.Close()
	gets, _, stats := blobs.reset()
	if stats != 0 || len(gets) == 0 || gets[0] != objectstore.Bytes(0, 16<<10-1) {
		t.Fatalf("lookup + open + first read: %d stats, gets %v; want one GET of the 16 KiB head first", stats, gets)
	}
	for _, g := range gets[1:] {
		if g.Start < 16<<10 {
			t.Errorf("the head was fetched again: %v", gets)
		}
	}

	fi, err := os.Stat(filepath.Join(dir, "blobs", blobstore.Name(empty)))
	if err != nil || fi.Size() != 0 {
		t.Fatalf("empty blob: %v, %v", fi, err)
	}
}

// TestDirectoriesListInBigAnswers: directories report a 1 MiB st_blksize,
// which glibc's readdir (ls, find, rsync) takes as its buffer size, and one
// READDIR answer fills such a buffer: 3000 names come in one getdents.
func TestDirectoriesListInBigAnswers(t *testing.T) {
	fusetest.Require(t)
	const n = 3000
	blobs := make([][]byte, n)
	for i := range blobs {
		blobs[i] = []byte(strconv.Itoa(i))
	}
	st, _ := memoryBlobs(t, blobs...)
	dir, _, _ := mountWithMetrics(t, st, 0)
	f, err := os.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &s); err != nil {
		t.Fatal(err)
	}
	if s.Blksize != 1<<20 {
		t.Fatalf("st_blksize of /blobs is %d, want 1 MiB", s.Blksize)
	}
	buf := make([]byte, s.Blksize)
	got, err := syscall.ReadDirent(int(f.Fd()), buf)
	if err != nil {
		t.Fatal(err)
	}
	_, count, _ := syscall.ParseDirent(buf[:got], -1, nil)
	if count != n {
		t.Errorf("one getdents with a 1 MiB buffer returned %d names (%d bytes), want all %d", count, got, n)
	}
}

// TestLocalListingNodesOnDemand: a listing of local files (flatfs) hands
// out nodes (a stat each) in its first answers only, unless names of
// /blobs are being looked up: a bare listing (`ls -f`) of a million costs
// no stat per name, and a walk that stats behind the listing (`find |
// xargs stat`) finds the rest of the names with their nodes, without a
// LOOKUP each.
func TestLocalListingNodesOnDemand(t *testing.T) {
	fusetest.Require(t)
	const n = 400
	st, err := node.Open(context.Background(), node.Config{DataDir: t.TempDir(), Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	var digests []mh.Multihash
	for i := range n {
		b := []byte(strconv.Itoa(i))
		d, _ := mh.Sum(b, mh.SHA2_256, -1)
		if err := st.Blobs.Put(context.Background(), d, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	// getdents with a page-sized buffer: the kernel asks for answers of
	// that size, ~20 entries each.
	readNames := func(t *testing.T, f *os.File, max int) []string {
		t.Helper()
		var names []string
		buf := make([]byte, 4096)
		for max < 0 || len(names) < max {
			k, err := syscall.ReadDirent(int(f.Fd()), buf)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				break
			}
			_, _, names = syscall.ParseDirent(buf[:k], -1, names)
		}
		return names
	}
	dir, root, m := mountWithMetrics(t, st, 0)
	root.SetNodesFirst(40)
	blobs := filepath.Join(dir, "blobs")

	t.Run("bare listing", func(t *testing.T) {
		f, err := os.Open(blobs)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if names := readNames(t, f, -1); len(names) != n {
			t.Fatalf("listed %d names, want %d", len(names), n)
		}
		if live := root.LiveBlobs(); live < 40 || live > n/2 {
			t.Errorf("a bare listing of %d made %d nodes: want those of its first answers only (from 40 names)", n, live)
		}
	})
	t.Run("walk", func(t *testing.T) {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			t.Fatalf("drop_caches: %v", err)
		}
		for deadline := time.Now().Add(10 * time.Second); root.LiveBlobs() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		f, err := os.Open(blobs)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		names := readNames(t, f, 1)
		// A walker stats a name it was given: a LOOKUP in /blobs (here
		// under another name of a blob, which the kernel cannot know).
		if _, err := os.Stat(filepath.Join(blobs, "z"+blobstore.Base58(digests[0]))); err != nil {
			t.Fatal(err)
		}
		names = append(names, readNames(t, f, -1)...)
		if len(names) != n {
			t.Fatalf("listed %d names, want %d", len(names), n)
		}
		before := m.FuseOps("lookup")
		for _, name := range names {
			fi, err := os.Lstat(filepath.Join(blobs, name))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := blobstore.ParseName(name)
			if i := slices.IndexFunc(digests, func(x mh.Multihash) bool { return bytes.Equal(x, d) }); fi.Size() != int64(len(strconv.Itoa(i))) {
				t.Fatalf("%s: size %d", name, fi.Size())
			}
		}
		if got := m.FuseOps("lookup") - before; got != 0 {
			t.Errorf("stat of every listed name sent %d LOOKUPs, want 0", got)
		}
	})
	// GNU fts lists a batch of names before it stats any of them: names
	// past the first batch carry nodes once a probe among the first was
	// stat'ed, though nothing was looked up.
	t.Run("fts", func(t *testing.T) {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			t.Fatalf("drop_caches: %v", err)
		}
		for deadline := time.Now().Add(10 * time.Second); root.LiveBlobs() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		root.SetNodesFirst(200)
		f, err := os.Open(blobs)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		before := m.FuseOps("lookup")
		stat := func(names []string) {
			for _, name := range names {
				if _, err := os.Lstat(filepath.Join(blobs, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		first := readNames(t, f, 100)
		stat(first)
		rest := readNames(t, f, -1)
		stat(rest)
		if len(first)+len(rest) != n {
			t.Fatalf("listed %d names, want %d", len(first)+len(rest), n)
		}
		if got := m.FuseOps("lookup") - before; got != 0 {
			t.Errorf("a walk in two batches sent %d LOOKUPs, want 0", got)
		}
		if got := m.FuseOps("getattr"); got == 0 {
			t.Error("no GETATTR of a probe")
		}
	})
}

// TestSpacesListingNodes: a listing of /spaces/<space> carries the
// blobs' nodes, the /blobs inodes, so `ls -l` and `find | stat` of a
// space send no LOOKUP per blob, from local files and from a listing
// with sizes alike.
func TestSpacesListingNodes(t *testing.T) {
	fusetest.Require(t)
	for _, kind := range []string{"data dir", "memory"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			cfg := node.Config{Writable: true}
			if kind == "data dir" {
				cfg.DataDir = t.TempDir()
			}
			st, err := node.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			space := "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
			sizes := map[string]int64{}
			for i := range 300 {
				b := []byte(strings.Repeat("x", i))
				d, _ := mh.Sum(b, mh.SHA2_256, -1)
				if err := st.Blobs.Put(ctx, d, int64(len(b)), bytes.NewReader(b)); err != nil {
					t.Fatal(err)
				}
				a := acceptancestore.Acceptance{Space: space, Digest: d, Size: int64(len(b)), ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)}
				if err := st.Acceptances.Put(ctx, a.ID(), a); err != nil {
					t.Fatal(err)
				}
				sizes[blobstore.Name(d)] = int64(len(b))
			}
			dir, _, m := mountWithMetrics(t, st, 0)
			sd := filepath.Join(dir, "spaces", space)
			if _, err := os.Stat(sd); err != nil {
				t.Fatal(err)
			}
			before := m.FuseOps("lookup")
			entries, err := os.ReadDir(sd)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(sizes) {
				t.Fatalf("listed %d blobs, want %d", len(entries), len(sizes))
			}
			for _, e := range entries {
				fi, err := os.Lstat(filepath.Join(sd, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if want, ok := sizes[e.Name()]; !ok || fi.Size() != want {
					t.Errorf("%s: size %d, want %d", e.Name(), fi.Size(), want)
				}
			}
			if got := m.FuseOps("lookup") - before; got != 0 {
				t.Errorf("stat of every listed blob sent %d LOOKUPs, want 0", got)
			}
		})
	}
}
