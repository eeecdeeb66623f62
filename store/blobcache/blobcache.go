// Package blobcache is a persistent local cache of blob bytes fetched from
// a remote store, in a directory of its own:
//
//	DIR/lock                 held (flock) by the one process using DIR
//	DIR/CACHEDIR.TAG         backup tools skip the directory
//	DIR/blobs/<b32>          the blob, sparse: only cached pages hold data
//	DIR/blobs/<b32>.pages    which 4 KiB pages of it are there
//	DIR/outboards/<b32>      a hash per chunk of a verified blob (Outboard)
//
// Blobs are content-addressed, so cached bytes never go stale. A page is
// claimed in the .pages file only after its bytes were synced: the map is
// written (to a temporary file, then renamed) after an fdatasync of the
// data, from a copy taken before it. A crash loses at most what came in
// since the last write of the map; it never makes a page claimed that is
// not on disk.
//
// The bytes on disk stay within the cache's size at all times: room is
// made (least recently used blobs first, outboards last) before pages are
// written, and pages that find none are not cached. Blobs open through a
// Handle are never evicted.
package blobcache

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/lockfile"
	"github.com/storacha/storefs/store/blobstore"
)

// PageSize is the unit of caching.
const PageSize = 4096

// Stats is told what the cache does (internal/helpers/metrics implements it).
type Stats interface {
	CacheHit()
	CacheMiss()
	CacheBytes(n int64)
	CacheEviction()
}

type noStats struct{}

func (noStats) CacheHit()        {}
func (noStats) CacheMiss()       {}
func (noStats) CacheBytes(int64) {}
func (noStats) CacheEviction()   {}

// Cache is an open cache directory.
type Cache struct {
	dir   string
	limit int64
	lock  *os.File
	log   *slog.Logger
	stats Stats

	mu        sync.Mutex
	blobs     map[string]*entry // by b32 name
	lru       list.List         // of *entry, least recently used at the front
	outboards map[string]*outboardEntry
	oblru     list.List // of *outboardEntry
	used      int64     // bytes on disk, reserved ones included

	flushes chan *entry
	done    chan struct{}
}

// entry is one cached blob.
type entry struct {
	name  string
	size  int64
	pages bitmap
	count int64 // pages present
	refs  int   // open Handles
	dirty bool  // pages not yet in the .pages file
	touch bool  // used since the .pages file was written
	gone  bool  // evicted
	elem  *list.Element
	file  *os.File // open while refs > 0
}

// bytes is what the entry holds on disk: its pages and its map.
func (e *entry) bytes() int64 {
	if e.count == 0 {
		return 0
	}
	return e.count*PageSize + roundUp(mapLen(e.size), PageSize)
}

func pagesOf(size int64) int64 { return (size + PageSize - 1) / PageSize }

func roundUp(n, m int64) int64 { return (n + m - 1) / m * m }

// Open takes DIR for this process (creating it), loads what it holds and
// evicts down to limit. A DIR another process holds is an error naming it.
func Open(dir string, limit int64, log *slog.Logger, stats Stats) (*Cache, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cache %s: size must be positive", dir)
	}
	if log == nil {
		log = slog.Default()
	}
	if stats == nil {
		stats = noStats{}
	}
	for _, sub := range []string{"blobs", "outboards"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
	}
	lock, err := takeLock(dir)
	if err != nil {
		return nil, err
	}
	c := &Cache{dir: dir, limit: limit, lock: lock, log: log, stats: stats,
		blobs: map[string]*entry{}, outboards: map[string]*outboardEntry{},
		flushes: make(chan *entry, 256), done: make(chan struct{})}
	_ = os.WriteFile(filepath.Join(dir, "CACHEDIR.TAG"), []byte(cacheDirTag), 0o644)
	if err := c.load(); err != nil {
		lock.Close()
		return nil, err
	}
	c.mu.Lock()
	c.makeRoom(0, nil)
	c.mu.Unlock()
	c.stats.CacheBytes(c.used)
	go c.flusher()
	return c, nil
}

const cacheDirTag = "Signature: 8a477f597d28d172789f06886806bc55\n# storefs blob cache: fetched blob bytes, refetched when missing.\n"

// ErrLocked is matched by the error of opening a directory another
// process holds.
var ErrLocked = errors.New("cache directory in use")

// takeLock takes DIR/lock; the error for a held lock names the holder.
func takeLock(dir string) (*os.File, error) {
	f, err := lockfile.Take(filepath.Join(dir, "lock"))
	var held *lockfile.HeldError
	switch {
	case errors.As(err, &held):
		return nil, fmt.Errorf("cache %s: %w by %s", dir, ErrLocked, held.Holder)
	case err != nil:
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	return f, nil
}

// load reads the maps and outboards DIR holds. What cannot be trusted (a
// map that does not check, data without a map, temporary files) is
// removed.
func (c *Cache) load() error {
	type found struct {
		e    *entry
		used time.Time
	}
	var all []found
	blobs := filepath.Join(c.dir, "blobs")
	names, err := readNames(blobs)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, n := range names {
		if isTemp(n) {
			os.Remove(filepath.Join(blobs, n))
			continue
		}
		name, ok := strings.CutSuffix(n, ".pages")
		if !ok {
			if !have[n+".pages"] {
				os.Remove(filepath.Join(blobs, n))
			}
			continue
		}
		e, mtime, err := c.readMap(name)
		if err != nil {
			c.log.Warn("cache: dropping an entry that does not check", "blob", name, "err", err)
			os.Remove(filepath.Join(blobs, name))
			os.Remove(filepath.Join(blobs, n))
			continue
		}
		all = append(all, found{e, mtime})
	}
	obs, err := readNames(filepath.Join(c.dir, "outboards"))
	if err != nil {
		return err
	}
	var oball []*outboardEntry
	for _, n := range obs {
		path := filepath.Join(c.dir, "outboards", n)
		fi, err := os.Stat(path)
		if isTemp(n) || err != nil {
			os.Remove(path)
			continue
		}
		oball = append(oball, &outboardEntry{name: n, size: roundUp(fi.Size(), PageSize), used: fi.ModTime()})
	}
	// Least recently used first: by the time the map was last written.
	slices.SortStableFunc(all, func(a, b found) int { return a.used.Compare(b.used) })
	slices.SortStableFunc(oball, func(a, b *outboardEntry) int { return a.used.Compare(b.used) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range all {
		f.e.elem = c.lru.PushBack(f.e)
		c.blobs[f.e.name] = f.e
		c.used += f.e.bytes()
	}
	for _, o := range oball {
		o.elem = c.oblru.PushBack(o)
		c.outboards[o.name] = o
		c.used += o.size
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return names, nil
}

func isTemp(name string) bool { return strings.Contains(name, ".tmp") }

// Close writes what is not yet written and lets DIR go.
func (c *Cache) Close() error {
	close(c.flushes)
	<-c.done
	c.mu.Lock()
	var dirty []*entry
	for _, e := range c.blobs {
		if e.dirty || e.touch {
			dirty = append(dirty, e)
		}
	}
	c.mu.Unlock()
	for _, e := range dirty {
		c.flush(e)
	}
	return c.lock.Close()
}

// Limit is the most bytes the cache holds.
func (c *Cache) Limit() int64 { return c.limit }

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Handle is an open cached blob: its pages are kept, and read and written
// through one file, until Release.
type Handle struct {
	c *Cache
	e *entry
}

// Acquire opens the blob's entry, creating it when it is new.
func (c *Cache) Acquire(digest mh.Multihash, size int64) (*Handle, error) {
	name := blobstore.Name(digest)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.blobs[name]
	if e != nil && e.size != size {
		// Another size for one multihash: not the blob it was.
		c.evict(e)
		e = nil
	}
	if e == nil {
		e = &entry{name: name, size: size, pages: newBitmap(pagesOf(size))}
		e.elem = c.lru.PushBack(e)
		c.blobs[name] = e
	}
	if e.refs == 0 {
		f, err := os.OpenFile(c.dataPath(name), os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			if fi, serr := f.Stat(); serr == nil && fi.Size() != size {
				err = f.Truncate(size) // sparse: no blocks
			}
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			return nil, fmt.Errorf("cache %s: %w", c.dir, err)
		}
		e.file = f
	}
	e.refs++
	e.touch = true
	c.lru.MoveToBack(e.elem)
	return &Handle{c: c, e: e}, nil
}

func (c *Cache) dataPath(name string) string { return filepath.Join(c.dir, "blobs", name) }
func (c *Cache) mapPath(name string) string  { return filepath.Join(c.dir, "blobs", name+".pages") }

// Release closes the handle; the blob's map is written in the background.
func (h *Handle) Release() {
	c, e := h.c, h.e
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.refs--; e.refs > 0 {
		return
	}
	e.file.Close()
	e.file = nil
	if e.count == 0 && !e.gone {
		// Nothing came in: leave no trace.
		c.lru.Remove(e.elem)
		delete(c.blobs, e.name)
		e.gone = true
		os.Remove(c.dataPath(e.name))
		os.Remove(c.mapPath(e.name))
		return
	}
	if e.dirty || e.touch {
		select {
		case c.flushes <- e:
		default: // the flusher is behind: Close writes it
		}
	}
}

// Complete reports whether every page of the blob is cached.
func (h *Handle) Complete() bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.e.count == pagesOf(h.e.size)
}

// Cached is how many of the blob's bytes are cached.
func (h *Handle) Cached() int64 {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return cachedBytes(h.e)
}

func cachedBytes(e *entry) int64 {
	n := e.count * PageSize
	if last := pagesOf(e.size) - 1; last >= 0 && e.pages.has(last) {
		n -= pagesOf(e.size)*PageSize - e.size
	}
	return n
}

// File opens the blob's cached file for reading; only a complete blob's
// file holds all its bytes.
func (h *Handle) File() (*os.File, error) {
	f, err := os.Open(h.c.dataPath(h.e.name))
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", h.c.dir, err)
	}
	return f, nil
}

// Fetch reads [off, off+n) of the blob: cached pages from the file, the
// run between the first and last missing page from upstream, which is
// written to the cache as it passes.
func (h *Handle) Fetch(ctx context.Context, off, n int64, upstream blobstore.Ranges) (io.ReadCloser, error) {
	c, e := h.c, h.e
	end := min(off+n, e.size)
	if off >= end {
		return io.NopCloser(strings.NewReader("")), nil
	}
	c.mu.Lock()
	first, last := off/PageSize, (end-1)/PageSize
	lo, hi := first, last
	for lo <= last && e.pages.has(lo) {
		lo++
	}
	for hi >= lo && e.pages.has(hi) {
		hi--
	}
	c.mu.Unlock()
	if lo > last { // all there
		c.stats.CacheHit()
		return io.NopCloser(io.NewSectionReader(e.file, off, end-off)), nil
	}
	c.stats.CacheMiss()
	// [mOff, mEnd): the missing run, within [off, end).
	mOff, mEnd := max(off, lo*PageSize), min(end, (hi+1)*PageSize)
	body, err := upstream.ReadRange(ctx, mOff, mEnd-mOff)
	if err != nil {
		return nil, err
	}
	tee := &teeReader{h: h, r: body, pos: mOff, end: mEnd}
	var rs []io.Reader
	if mOff > off {
		rs = append(rs, io.NewSectionReader(e.file, off, mOff-off))
	}
	rs = append(rs, tee)
	if end > mEnd {
		rs = append(rs, io.NewSectionReader(e.file, mEnd, end-mEnd))
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(rs...), tee}, nil
}

// teeReader passes upstream bytes on and writes the whole pages among
// them to the cache.
type teeReader struct {
	h   *Handle
	r   io.ReadCloser
	pos int64 // offset of the next byte from r
	end int64
	buf []byte // bytes from bufOff on, not yet written
	off int64
	err error
}

// teeBuf is how many bytes are gathered before a write.
const teeBuf = 256 << 10

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.gather(p[:n])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

func (t *teeReader) gather(p []byte) {
	start := t.pos
	t.pos += int64(len(p))
	if t.buf == nil {
		// Start at the first page boundary at or after start.
		skip := (PageSize - start%PageSize) % PageSize
		if int64(len(p)) <= skip {
			return
		}
		t.off = start + skip
		p = p[skip:]
		t.buf = make([]byte, 0, teeBuf)
	}
	for len(p) > 0 {
		k := copy(t.buf[len(t.buf):cap(t.buf)], p)
		t.buf = t.buf[:len(t.buf)+k]
		p = p[k:]
		if len(t.buf) == cap(t.buf) {
			t.write()
		}
	}
}

// write stores the whole pages gathered (and the blob's last page, which
// is whole at the blob's end) and keeps the rest.
func (t *teeReader) write() {
	n := int64(len(t.buf)) / PageSize * PageSize
	if t.off+int64(len(t.buf)) == t.h.e.size {
		n = int64(len(t.buf))
	}
	if n > 0 {
		t.h.put(t.off, t.buf[:n])
	}
	rest := copy(t.buf, t.buf[n:])
	t.buf = t.buf[:rest]
	t.off += n
}

// Close writes the whole pages that came in, even when the reader
// stopped early: what arrived without an error is the blob's.
func (t *teeReader) Close() error {
	if t.err == nil && t.buf != nil {
		t.write()
	}
	return t.r.Close()
}

// put writes data (starting on a page, whole pages or ending at the
// blob's end) to the cache, when room can be made for its new pages.
func (h *Handle) put(off int64, data []byte) {
	c, e := h.c, h.e
	if e.size > c.limit {
		return // would evict everything else and still not fit
	}
	first, last := off/PageSize, (off+int64(len(data))-1)/PageSize
	c.mu.Lock()
	var fresh int64
	for p := first; p <= last; p++ {
		if !e.pages.has(p) {
			fresh++
		}
	}
	need := fresh * PageSize
	if e.count == 0 {
		need += roundUp(mapLen(e.size), PageSize)
	}
	if fresh == 0 || e.gone || !c.makeRoom(need, e) {
		c.mu.Unlock()
		return
	}
	c.used += need // reserved
	c.mu.Unlock()

	_, err := e.file.WriteAt(data, off)

	c.mu.Lock()
	defer c.mu.Unlock()
	before := e.bytes()
	if err == nil {
		for p := first; p <= last; p++ {
			if !e.pages.has(p) {
				e.pages.set(p)
				e.count++
			}
		}
		e.dirty = true
	} else {
		c.log.Warn("cache: write failed; not caching", "blob", e.name, "err", err)
	}
	c.used += e.bytes() - before - need // the reservation becomes what is there
	c.stats.CacheBytes(c.used)
}

// makeRoom evicts until need more bytes fit, never keep's entry nor an
// open one: blobs least recently used first, outboards once no blob is
// left to evict. It reports whether need fits. c.mu is held.
func (c *Cache) makeRoom(need int64, keep *entry) bool {
	for el := c.lru.Front(); c.used+need > c.limit && el != nil; {
		e := el.Value.(*entry)
		el = el.Next()
		if e != keep && e.refs == 0 {
			c.evict(e)
		}
	}
	for el := c.oblru.Front(); c.used+need > c.limit && el != nil; {
		o := el.Value.(*outboardEntry)
		el = el.Next()
		c.dropOutboard(o)
	}
	return c.used+need <= c.limit
}

// evict removes a blob's bytes. c.mu is held.
func (c *Cache) evict(e *entry) {
	if e.gone {
		return
	}
	e.gone = true
	c.lru.Remove(e.elem)
	delete(c.blobs, e.name)
	c.used -= e.bytes()
	os.Remove(c.mapPath(e.name)) // unclaim first
	os.Remove(c.dataPath(e.name))
	c.stats.CacheEviction()
	c.stats.CacheBytes(c.used)
}

// flusher writes maps of released blobs in the background.
func (c *Cache) flusher() {
	defer close(c.done)
	for e := range c.flushes {
		c.flush(e)
	}
}

// flush makes the blob's map claim what is on disk: a copy of the map is
// taken, the data synced, then the copy written and renamed into place.
func (c *Cache) flush(e *entry) {
	c.mu.Lock()
	if e.gone || (!e.dirty && !e.touch) {
		c.mu.Unlock()
		return
	}
	snap := e.pages.clone()
	dirty := e.dirty
	e.dirty, e.touch = false, false
	c.mu.Unlock()

	if !dirty { // only used: its time is its place in the LRU order
		now := time.Now()
		_ = os.Chtimes(c.mapPath(e.name), now, now)
		return
	}
	if err := c.writeMap(e, snap); err != nil {
		c.mu.Lock()
		gone := e.gone // evicted meanwhile: nothing to record
		e.dirty = !gone
		c.mu.Unlock()
		if !gone {
			c.log.Warn("cache: could not record cached pages; they are fetched again next time", "blob", e.name, "err", err)
		}
	}
}

func (c *Cache) writeMap(e *entry, snap bitmap) error {
	data, err := os.OpenFile(c.dataPath(e.name), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = data.Sync() // fdatasync's effect: the file's pages, whoever wrote them
	data.Close()
	if err != nil {
		return err
	}
	tmp := c.mapPath(e.name) + ".tmp"
	if err := writeFileSync(tmp, encodeMap(e.size, snap)); err != nil {
		os.Remove(tmp)
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.gone { // evicted meanwhile: claim nothing
		os.Remove(tmp)
		return nil
	}
	return os.Rename(tmp, c.mapPath(e.name))
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The .pages file: magic, blob size, the page bitmap, CRC-32C of it all.
const mapMagic = "sfpages1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func mapLen(size int64) int64 { return int64(len(mapMagic)) + 8 + (pagesOf(size)+7)/8 + 4 }

func encodeMap(size int64, b bitmap) []byte {
	out := make([]byte, 0, mapLen(size))
	out = append(out, mapMagic...)
	out = binary.BigEndian.AppendUint64(out, uint64(size))
	out = append(out, b.bytes(pagesOf(size))...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// readMap loads one blob's map; it must check, and its data file must be
// there with the blob's size.
func (c *Cache) readMap(name string) (*entry, time.Time, error) {
	path := c.mapPath(name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	size, b, err := decodeMap(raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	fi, err := os.Stat(c.dataPath(name))
	if err != nil {
		return nil, time.Time{}, err
	}
	if fi.Size() != size {
		return nil, time.Time{}, fmt.Errorf("data file has %d bytes, map says %d", fi.Size(), size)
	}
	mi, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	e := &entry{name: name, size: size, pages: b, count: b.count()}
	if e.count == 0 {
		return nil, time.Time{}, errors.New("no pages")
	}
	return e, mi.ModTime(), nil
}

func decodeMap(raw []byte) (int64, bitmap, error) {
	if len(raw) < len(mapMagic)+12 || string(raw[:len(mapMagic)]) != mapMagic {
		return 0, nil, errors.New("not a page map")
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, nil, errors.New("page map checksum mismatch")
	}
	size := int64(binary.BigEndian.Uint64(raw[len(mapMagic):]))
	if size < 0 || int64(len(raw)) != mapLen(size) {
		return 0, nil, errors.New("page map length does not fit its size")
	}
	return size, bitmapFrom(raw[len(mapMagic)+8:len(raw)-4], pagesOf(size)), nil
}

// Ranges reads the blob through the cache: each read holds the blob's
// entry (Handle.Fetch) until its body is closed, and reads what is not
// cached from upstream.
func (c *Cache) Ranges(digest mh.Multihash, size int64, upstream blobstore.Ranges) blobstore.Ranges {
	return cachedRanges{c: c, digest: digest, size: size, upstream: upstream}
}

type cachedRanges struct {
	c        *Cache
	digest   mh.Multihash
	size     int64
	upstream blobstore.Ranges
}

func (r cachedRanges) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	h, err := r.c.Acquire(r.digest, r.size)
	if err != nil {
		r.c.log.Warn("cache: reading past it", "blob", blobstore.Name(r.digest), "err", err)
		return r.upstream.ReadRange(ctx, off, n)
	}
	rc, err := h.Fetch(ctx, off, n, r.upstream)
	if err != nil {
		h.Release()
		return nil, err
	}
	return &releasing{ReadCloser: rc, h: h}, nil
}

type releasing struct {
	io.ReadCloser
	h    *Handle
	once sync.Once
}

func (r *releasing) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.h.Release)
	return err
}
