package blobcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
)

// blob is a test blob and an upstream that counts what it serves.
type blob struct {
	data   []byte
	digest mh.Multihash
	served atomic.Int64
	gets   atomic.Int64
}

func newBlob(t *testing.T, size int) *blob {
	t.Helper()
	b := &blob{data: make([]byte, size)}
	rand.Read(b.data)
	d, err := mh.Sum(b.data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	b.digest = d
	return b
}

func (b *blob) name() string { return blobstore.Name(b.digest) }

func (b *blob) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	b.gets.Add(1)
	b.served.Add(n)
	return io.NopCloser(bytes.NewReader(b.data[off : off+n])), nil
}

func read(t *testing.T, h *Handle, b *blob, off, n int64) []byte {
	t.Helper()
	rc, err := h.Fetch(context.Background(), off, n, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if end := min(off+n, int64(len(b.data))); !bytes.Equal(got, b.data[off:end]) {
		t.Fatalf("read [%d,+%d): wrong bytes", off, n)
	}
	return got
}

func open(t *testing.T, dir string, limit int64) *Cache {
	t.Helper()
	c, err := Open(dir, limit, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diskBytes is what the cache directory's files take on disk.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, sub := range []string{"blobs", "outboards"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(dir, sub, e.Name()), &st); err == nil {
				n += st.Blocks * 512
			}
		}
	}
	return n
}

func TestFetchCachesAndServesHits(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	b := newBlob(t, 1<<20+123) // a partial last page
	h, err := c.Acquire(b.digest, int64(len(b.data)))
	if err != nil {
		t.Fatal(err)
	}
	// Unaligned: only the whole pages inside are kept.
	read(t, h, b, 100, 3*PageSize)
	read(t, h, b, PageSize, 2*PageSize) // inside: a hit
	if g := b.gets.Load(); g != 1 {
		t.Fatalf("upstream reads: %d, want 1 (the second was cached)", g)
	}
	read(t, h, b, 0, PageSize) // page 0 was partial in the first read
	if g := b.gets.Load(); g != 2 {
		t.Fatalf("upstream reads: %d, want 2", g)
	}
	// A read spanning cached and missing pages fetches only the missing run.
	before := b.served.Load()
	read(t, h, b, 0, 8*PageSize)
	if got := b.served.Load() - before; got != 5*PageSize {
		t.Fatalf("fetched %d bytes for 5 missing pages (3 to 7)", got)
	}
	read(t, h, b, 0, int64(len(b.data))) // the rest, to the blob's end
	if !h.Complete() || h.Cached() != int64(len(b.data)) {
		t.Fatalf("complete %v, cached %d of %d", h.Complete(), h.Cached(), len(b.data))
	}
	gets := b.gets.Load()
	read(t, h, b, int64(len(b.data))-10, 100)
	if b.gets.Load() != gets {
		t.Fatal("the last, partial page was not cached")
	}
	h.Release()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// After a remount, the blob is there, and its file is the blob.
	c = open(t, dir, 64<<20)
	defer c.Close()
	h, err = c.Acquire(b.digest, int64(len(b.data)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if !h.Complete() {
		t.Fatal("complete blob not complete after reopening")
	}
	f, err := h.File()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, b.data) {
		t.Fatal("cached file is not the blob")
	}
	list, err := List(dir)
	if err != nil || len(list) != 1 || list[0].Cached != int64(len(b.data)) || list[0].Size != int64(len(b.data)) {
		t.Fatalf("List: %+v, %v", list, err)
	}
}

// TestCrashClaimsNothingUnsynced: pages whose map was never written are
// not served after a crash (the process gone without Close), and a map
// that does not check is dropped.
func TestCrashClaimsNothingUnsynced(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	b := newBlob(t, 256<<10)
	h, _ := c.Acquire(b.digest, int64(len(b.data)))
	read(t, h, b, 0, int64(len(b.data)))
	c.lock.Close() // the crash: no Release, no Close
	c2 := open(t, dir, 64<<20)
	h2, _ := c2.Acquire(b.digest, int64(len(b.data)))
	if h2.Cached() != 0 {
		t.Fatalf("%d bytes claimed that no map recorded", h2.Cached())
	}
	read(t, h2, b, 0, int64(len(b.data)))
	h2.Release()
	c2.Close()

	// Rot in the map: the entry is dropped, not trusted.
	mp := filepath.Join(dir, "blobs", strings.TrimSpace(mustName(t, dir))+".pages")
	raw, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	os.WriteFile(mp, raw, 0o600)
	c3 := open(t, dir, 64<<20)
	defer c3.Close()
	h3, _ := c3.Acquire(b.digest, int64(len(b.data)))
	defer h3.Release()
	if h3.Cached() != 0 {
		t.Fatal("a map with a bad checksum was trusted")
	}
}

func mustName(t *testing.T, dir string) string {
	list, err := List(dir)
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %+v, %v", list, err)
	}
	return list[0].Name
}

// TestEvictsLeastRecentlyUsedWithinLimit: the bytes on disk never pass the
// limit; open blobs stay; blobs bigger than the cache are not cached.
func TestEvictsLeastRecentlyUsedWithinLimit(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	c := open(t, dir, limit)
	defer c.Close()
	var blobs []*blob
	for i := 0; i < 4; i++ {
		b := newBlob(t, 400<<10)
		blobs = append(blobs, b)
		h, _ := c.Acquire(b.digest, int64(len(b.data)))
		read(t, h, b, 0, int64(len(b.data)))
		h.Release()
		if c.used > limit {
			t.Fatalf("accounted %d bytes, limit %d", c.used, limit)
		}
		if d := diskBytes(t, dir); d > limit {
			t.Fatalf("%d bytes on disk, limit %d", d, limit)
		}
	}
	if len(c.blobs) != 2 || c.blobs[blobs[3].name()] == nil || c.blobs[blobs[2].name()] == nil {
		t.Fatalf("%d blobs kept of 4 × 400 KiB in 1 MiB, want the last 2", len(c.blobs))
	}
	// An open blob is never evicted: hold blob 2, fill with others.
	h2, _ := c.Acquire(blobs[2].digest, 400<<10)
	for _, b := range []*blob{newBlob(t, 400<<10), newBlob(t, 400<<10)} {
		h, _ := c.Acquire(b.digest, int64(len(b.data)))
		read(t, h, b, 0, int64(len(b.data)))
		h.Release()
	}
	if h2.Cached() != 400<<10 {
		t.Fatal("an open blob was evicted")
	}
	h2.Release()
	big := newBlob(t, 2<<20)
	h, _ := c.Acquire(big.digest, int64(len(big.data)))
	read(t, h, big, 0, int64(len(big.data)))
	if h.Cached() != 0 {
		t.Fatal("a blob bigger than the cache was cached")
	}
	h.Release()
	if d := diskBytes(t, dir); d > limit {
		t.Fatalf("%d bytes on disk, limit %d", d, limit)
	}
}

func TestSecondOpenNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	_, err := Open(dir, 1<<20, nil, nil)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second open: %v", err)
	}
	if Holder(dir) == "" {
		t.Fatal("Holder says none while held")
	}
	if err := Clear(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Clear of a held cache: %v", err)
	}
	c.Close()
	if h := Holder(dir); h != "" {
		t.Fatalf("Holder after Close: %q", h)
	}
	if err := Clear(dir); err != nil {
		t.Fatal(err)
	}
}

func TestOutboardChecksRanges(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	b := newBlob(t, 5*ChunkSize+777)
	ob := NewOutboardBuilder(int64(len(b.data)))
	ob.Write(b.data[:1000])
	ob.Write(b.data[1000:])
	if err := c.PutOutboard(b.digest, ob.Outboard()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = open(t, dir, 1<<20)
	defer c.Close()
	o := c.Outboard(b.digest, int64(len(b.data)))
	if o == nil {
		t.Fatal("outboard lost across reopen")
	}
	for _, r := range [][2]int64{{0, 10}, {ChunkSize - 5, 10}, {3 * ChunkSize, 2*ChunkSize + 777}, {int64(len(b.data)) - 1, 1}} {
		rc, err := o.Check(b).ReadRange(context.Background(), r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, b.data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
	b.data[2*ChunkSize+9] ^= 1 // rot at rest
	rc, _ := o.Check(b).ReadRange(context.Background(), 2*ChunkSize+4000, 4096)
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrMismatch) {
		t.Fatalf("flipped byte in the chunk read: %v", err)
	}
	rc, _ = o.Check(b).ReadRange(context.Background(), 0, 4096)
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatalf("another chunk: %v", err)
	}
	if o := c.Outboard(b.digest, 99); o != nil {
		t.Fatal("an outboard of another size was used")
	}
}
