package blobcache

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fill reads a blob whole through the cache and lets it go.
func fill(t *testing.T, c *Cache, b *blob) {
	t.Helper()
	h, err := c.Acquire(b.digest, int64(len(b.data)))
	if err != nil {
		t.Fatal(err)
	}
	read(t, h, b, 0, int64(len(b.data)))
	h.Release()
}

// A map written after a clean release survives a crash: its pages are
// served from disk after a restart, byte for byte, with no upstream
// read; temporary files and data without a map are cleared at open.
func TestCrashKeepsWhatWasRecorded(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	b := newBlob(t, 300<<10+17)
	fill(t, c, b)
	c.Close() // the maps are written
	// Then a crash mid-write of others: a torn map and stray data.
	for _, junk := range []string{"blobs/xyz.pages.tmp123", "blobs/orphan-data", "outboards/abc.tmp9"} {
		if err := os.WriteFile(filepath.Join(dir, junk), []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c2 := open(t, dir, 64<<20)
	defer c2.Close()
	for _, junk := range []string{"blobs/xyz.pages.tmp123", "blobs/orphan-data", "outboards/abc.tmp9"} {
		if _, err := os.Stat(filepath.Join(dir, junk)); !os.IsNotExist(err) {
			t.Errorf("%s survived the open: %v", junk, err)
		}
	}
	h, _ := c2.Acquire(b.digest, int64(len(b.data)))
	defer h.Release()
	if !h.Complete() {
		t.Fatalf("%d of %d bytes cached after a restart", h.Cached(), len(b.data))
	}
	gets := b.gets.Load()
	read(t, h, b, 0, int64(len(b.data)))
	if b.gets.Load() != gets {
		t.Error("a recorded blob was read from upstream again")
	}
}

// A reopened cache with a smaller limit evicts at once, least recently
// used first, as the maps' times recorded it.
func TestReopenEvictsDownToTheLimit(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	var blobs []*blob
	for range 4 {
		b := newBlob(t, 200<<10)
		blobs = append(blobs, b)
		fill(t, c, b)
	}
	c.Close()
	// The oldest first: set the maps' times apart (a second is the
	// coarsest file-time resolution that matters).
	base := time.Now().Add(-time.Hour)
	for i, b := range blobs {
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(c.mapPath(b.name()), at, at); err != nil {
			t.Fatal(err)
		}
	}
	// Blob 0 used last of all.
	now := time.Now()
	os.Chtimes(c.mapPath(blobs[0].name()), now, now)

	const limit = 500 << 10 // room for two of them
	c2 := open(t, dir, limit)
	defer c2.Close()
	if c2.used > limit || diskBytes(t, dir) > limit {
		t.Fatalf("after reopening with %d: %d accounted, %d on disk", limit, c2.used, diskBytes(t, dir))
	}
	kept := map[string]bool{}
	for name := range c2.blobs {
		kept[name] = true
	}
	if len(kept) != 2 || !kept[blobs[0].name()] || !kept[blobs[3].name()] {
		t.Fatalf("kept %v, want blob 0 (used last) and blob 3 (the newest)", kept)
	}
}

// Outboards count against the limit and go only once no blob bytes are
// left to evict; one that cannot fit is refused, not written.
func TestOutboardsGoLast(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	c := open(t, dir, limit)
	defer c.Close()
	ob := newBlob(t, 3*ChunkSize)
	bld := NewOutboardBuilder(int64(len(ob.data)))
	bld.Write(ob.data)
	if err := c.PutOutboard(ob.digest, bld.Outboard()); err != nil {
		t.Fatal(err)
	}
	for range 6 { // 6 × 300 KiB through a 1 MiB cache
		fill(t, c, newBlob(t, 300<<10))
		if c.used > limit {
			t.Fatalf("%d bytes accounted, limit %d", c.used, limit)
		}
	}
	if c.Outboard(ob.digest, int64(len(ob.data))) == nil {
		t.Fatal("an outboard went while blob bytes could be evicted")
	}
	// A blob held open that needs the whole cache (its pages and its
	// map's): the outboard goes.
	big := newBlob(t, limit-PageSize)
	h, _ := c.Acquire(big.digest, int64(len(big.data)))
	defer h.Release()
	read(t, h, big, 0, int64(len(big.data)))
	if !h.Complete() || c.Outboard(ob.digest, int64(len(ob.data))) != nil {
		t.Fatal("the outboard was kept while an open blob needed its room")
	}
	if c.used > limit || diskBytes(t, dir) > limit {
		t.Fatalf("%d accounted, %d on disk; limit %d", c.used, diskBytes(t, dir), limit)
	}
	// Nothing evictable is left (the open blob stays): an outboard is
	// refused, and nothing of it is written.
	if err := c.PutOutboard(ob.digest, bld.Outboard()); err == nil {
		t.Error("an outboard was kept with no room for it")
	}
	if _, err := os.Stat(c.outboardPath(ob.name())); !os.IsNotExist(err) {
		t.Errorf("a refused outboard is on disk: %v", err)
	}
}

// Many readers at once never take the cache past its limit, on disk or
// in its accounting, and every read returns the blob's own bytes.
func TestLimitHoldsUnderConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	const limit = 2 << 20
	c := open(t, dir, limit)
	defer c.Close()
	blobs := make([]*blob, 12)
	for i := range blobs {
		blobs[i] = newBlob(t, 256<<10+i*4096+i)
	}
	stop := make(chan struct{})
	var over error
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.mu.Lock()
			used := c.used
			c.mu.Unlock()
			if used > limit && over == nil {
				over = os.ErrInvalid
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 24 {
				b := blobs[(g*5+i)%len(blobs)]
				h, err := c.Acquire(b.digest, int64(len(b.data)))
				if err != nil {
					t.Error(err)
					return
				}
				off := int64((i * 7919) % len(b.data))
				read(t, h, b, off, min(64<<10, int64(len(b.data))-off))
				h.Release()
			}
		})
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	if over != nil {
		t.Fatal("the accounting passed the limit while readers ran")
	}
	if d := diskBytes(t, dir); d > limit {
		t.Fatalf("%d bytes on disk, limit %d", d, limit)
	}
}

// The same multihash with another size is another blob: the old entry
// goes, and nothing of it is served.
func TestAnotherSizeIsAnotherBlob(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	defer c.Close()
	b := newBlob(t, 64<<10)
	fill(t, c, b)
	h, _ := c.Acquire(b.digest, int64(len(b.data))-100)
	defer h.Release()
	if h.Cached() != 0 {
		t.Fatalf("%d bytes of a blob of another size served", h.Cached())
	}
}

// Only whole pages are cached (and the blob's last, partial one): a read
// that starts and ends mid-page caches the pages it covers whole.
func TestOnlyWholePagesCached(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 64<<20)
	defer c.Close()
	b := newBlob(t, 10*PageSize+100)
	h, _ := c.Acquire(b.digest, int64(len(b.data)))
	defer h.Release()
	read(t, h, b, PageSize+10, 3*PageSize) // pages 1 (part), 2, 3, 4 (part)
	if got := h.Cached(); got != 2*PageSize {
		t.Fatalf("%d bytes cached, want the 2 whole pages", got)
	}
	read(t, h, b, 9*PageSize+50, 2*PageSize) // to the end: page 9 (part), the last one whole
	if got := h.Cached(); got != 2*PageSize+100 {
		t.Fatalf("%d bytes cached, want also the blob's last page (100 bytes)", got)
	}
}
