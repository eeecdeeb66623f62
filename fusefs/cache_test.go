package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

// cacheMount mounts blobs with a cache on dir; unmount also closes the
// cache, as the command does.
func cacheMount(t *testing.T, blobs blobstore.Store, dir string, size int64, verify bool) (string, func(), *fusefs.Root, *metrics.Metrics) {
	t.Helper()
	c, err := blobcache.Open(dir, size, testLog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	root := newRoot(t, fusefs.Stores{Blobs: blobs}, fusefs.Config{Log: quietLog(), Cache: c, Verify: verify, Metrics: m})
	mnt, unmount := mountFresh(t, root)
	closed := false
	done := func() {
		unmount()
		if !closed {
			closed = true
			c.Close()
		}
	}
	t.Cleanup(done)
	return mnt, done, root, m
}

func randomBlob(seed byte, size int) []byte {
	b := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %s at %d: %v", path, off, err)
	}
	return buf[:k]
}

// TestCacheServesAcrossMounts: what one mount fetched the next serves
// without the store: a blob read whole by passthrough from its cache
// file (no READ reaches the daemon), a blob read in part by the daemon
// from the cached pages.
func TestCacheServesAcrossMounts(t *testing.T) {
	fusetest.Require(t)
	whole, part := randomBlob(1, 8<<20+5), randomBlob(2, 8<<20)
	st, digests := memoryBlobs(t, whole, part)
	blobs := &counting{Store: st.Blobs}
	cdir := t.TempDir()

	mnt, unmount, _, _ := cacheMount(t, blobs, cdir, 64<<20, false)
	if got, err := os.ReadFile(filepath.Join(mnt, "blobs", blobstore.Name(digests[0]))); err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("first read: %v", err)
	}
	offs := []int64{0, 1 << 20, 5<<20 + 12345}
	for _, off := range offs {
		if got := readAt(t, filepath.Join(mnt, "blobs", blobstore.Name(digests[1])), off, 4096); !bytes.Equal(got, part[off:off+4096]) {
			t.Fatalf("partial read at %d: wrong bytes", off)
		}
	}
	unmount()
	list, err := blobcache.List(cdir)
	if err != nil || len(list) != 2 {
		t.Fatalf("cache after the first mount: %+v, %v", list, err)
	}

	blobs.reset()
	mnt, _, root, m := cacheMount(t, blobs, cdir, 64<<20, false)
	if got, err := os.ReadFile(filepath.Join(mnt, "blobs", blobstore.Name(digests[0]))); err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("read from the cache: %v", err)
	}
	t.Logf("passthrough granted: %v; READs at the daemon: %d", root.KernelPassthrough(), m.FuseOps("READ"))
	if root.KernelPassthrough() && m.FuseOps("READ") != 0 {
		t.Errorf("%d READs reached the daemon for a blob cached whole; want passthrough", m.FuseOps("READ"))
	}
	for _, off := range offs {
		if got := readAt(t, filepath.Join(mnt, "blobs", blobstore.Name(digests[1])), off, 4096); !bytes.Equal(got, part[off:off+4096]) {
			t.Fatalf("cached partial read at %d: wrong bytes", off)
		}
	}
	// Each lookup still asks the store whether the blob is there (its
	// head's answer carries the size); nothing else is fetched.
	gets, read, _ := blobs.reset()
	for _, g := range gets {
		if g != objectstore.Bytes(0, 16<<10-1) {
			t.Fatalf("the second mount fetched cached bytes: %v (%d bytes)", gets, read)
		}
	}
	if read > int64(len(gets))*16<<10 {
		t.Fatalf("the second mount read %d bytes in %d lookups", read, len(gets))
	}
}

// TestCacheOpensNeverMix: a blob completed in the cache while a daemon
// open holds it stays daemon-served for every open until the last one
// closes (mixing passthrough and cached opens of an inode is EIO in the
// kernel); then opens take the cache file.
func TestCacheOpensNeverMix(t *testing.T) {
	fusetest.Require(t)
	data := randomBlob(3, 4<<20)
	st, digests := memoryBlobs(t, data)
	mnt, _, root, m := cacheMount(t, st.Blobs, t.TempDir(), 64<<20, false)
	path := filepath.Join(mnt, "blobs", blobstore.Name(digests[0]))
	held, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(held); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %v", err)
	}
	// Now complete in the cache, and open in the daemon's mode.
	for range 3 {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("second open while the first is held: %v", err)
		}
	}
	held.Close()
	syncRelease(t, path)
	reads := m.FuseOps("READ")
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		t.Logf("drop_caches: %v (page cache may serve the read)", err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open after the last closed: %v", err)
	}
	if root.KernelPassthrough() && m.FuseOps("READ") != reads {
		t.Errorf("%d READs reached the daemon after the blob was cached whole", m.FuseOps("READ")-reads)
	}
}

// syncRelease waits until the kernel's RELEASE of path's last open file
// reached the daemon: it is sent asynchronously after close. A stat of
// the mount is a request answered in order behind it.
func syncRelease(t *testing.T, path string) {
	t.Helper()
	var st syscall.Statfs_t
	for range 3 {
		syscall.Statfs(path, &st)
	}
}

// rotting flips one byte of a blob in every answer of the store, once
// armed: rot at rest in the stored object.
type rotting struct {
	blobstore.Store
	at    int64
	armed atomic.Bool
}

func (r *rotting) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	obj, err := r.Store.Get(ctx, d, opts...)
	if err != nil || !r.armed.Load() {
		return obj, err
	}
	start := int64(0)
	if cfg := objectstore.NewGetConfig(opts...); cfg.Range != nil {
		start = cfg.Range.Start
	}
	return &rottenObj{Object: obj, pos: start, at: r.at}, nil
}

type rottenObj struct {
	objectstore.Object
	pos, at int64
}

func (o *rottenObj) Read(p []byte) (int, error) {
	n, err := o.Object.Read(p)
	if o.at >= o.pos && o.at < o.pos+int64(n) {
		p[o.at-o.pos] ^= 0x01
	}
	o.pos += int64(n)
	return n, err
}

// TestCacheOutboardCatchesRot: under --verify with a cache dir, a blob
// read whole leaves an outboard; after the stored object rots, a 4 KiB
// read touching the flipped byte fails with EIO on a fresh mount (the
// blob is too big for the cache, so its bytes come from the store), and
// reads elsewhere in the blob still work. Rot in a cached page is caught
// the same way.
func TestCacheOutboardCatchesRot(t *testing.T) {
	fusetest.Require(t)
	data := randomBlob(4, 4<<20)
	st, digests := memoryBlobs(t, data)
	const at = 3<<20 + 777
	store := &rotting{Store: st.Blobs, at: at}
	cdir := t.TempDir()
	name := blobstore.Name(digests[0])

	mnt, unmount, _, _ := cacheMount(t, store, cdir, 1<<20, true)
	if got, err := os.ReadFile(filepath.Join(mnt, "blobs", name)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("verified read: %v", err)
	}
	unmount()
	list, _ := blobcache.List(cdir)
	if len(list) != 1 || !list[0].Outboard || list[0].Cached != 0 {
		t.Fatalf("cache after a verified read of a blob bigger than it: %+v, want its outboard only", list)
	}

	store.armed.Store(true)
	mnt, _, _, _ = cacheMount(t, store, cdir, 1<<20, true)
	path := filepath.Join(mnt, "blobs", name)
	if got := readAt(t, path, 0, 4096); !bytes.Equal(got, data[:4096]) {
		t.Fatal("a read far from the rot failed")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 4096), at-100); !errors.Is(err, syscall.EIO) {
		t.Fatalf("4 KiB read over a flipped byte: %v, want EIO", err)
	}
}

// TestCacheOutboardCatchesRotInCache: a cached page that rots on disk
// is caught by the outboard too.
func TestCacheOutboardCatchesRotInCache(t *testing.T) {
	fusetest.Require(t)
	data := randomBlob(5, 2<<20)
	st, digests := memoryBlobs(t, data)
	cdir := t.TempDir()
	name := blobstore.Name(digests[0])
	mnt, unmount, _, _ := cacheMount(t, st.Blobs, cdir, 64<<20, true)
	if got, err := os.ReadFile(filepath.Join(mnt, "blobs", name)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("verified read: %v", err)
	}
	unmount()
	list, _ := blobcache.List(cdir)
	if len(list) != 1 || !list[0].Outboard || list[0].Cached != int64(len(data)) {
		t.Fatalf("cache after a verified read: %+v, want the blob and its outboard", list)
	}
	f, err := os.OpenFile(filepath.Join(cdir, "blobs", name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{data[1<<20] ^ 0x80}, 1<<20)
	f.Close()

	mnt, _, _, _ = cacheMount(t, st.Blobs, cdir, 64<<20, true)
	g, err := os.Open(filepath.Join(mnt, "blobs", name))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.ReadAt(make([]byte, 4096), 1<<20); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read over a rotten cached page: %v, want EIO", err)
	}
}

// TestCacheDirTakenTwice: a second mount on one cache dir is refused,
// naming the first.
func TestCacheDirTakenTwice(t *testing.T) {
	dir := t.TempDir()
	c, err := blobcache.Open(dir, 1<<20, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := blobcache.Open(dir, 1<<20, nil, nil); !errors.Is(err, blobcache.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
}
