package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs/prefetch"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

// blobsDir is /blobs: listed from the backend, looked up by any name of a
// multihash.
type blobsDir struct {
	fs.Inode
	dir
	sizes *sizeCache
}

var (
	_ fs.NodeOpendirHandler = (*blobsDir)(nil)
	_ fs.NodeLookuper       = (*blobsDir)(nil)
	_ fs.NodeGetattrer      = (*blobsDir)(nil)
)

// OpendirHandle streams the backend listing. Sizes it carries (S3)
// answer READDIRPLUS and are remembered for later lookups, so `ls -l`
// costs no backend request and no round trip per entry.
func (d *blobsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	defer d.root.cfg.Metrics.FuseOp("readdir", time.Now())
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		if nl, ok := d.root.stores.Blobs.(blobstore.NameLister); ok {
			// Local files: names only; sizes come from a stat at lookup.
			return func(yield func(dirEntry, error) bool) {
				for name, err := range nl.ListNames(ctx) {
					if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: name, Mode: syscall.S_IFREG}}, err) || err != nil {
						return
					}
				}
			}
		}
		return func(yield func(dirEntry, error) bool) {
			for info, err := range d.root.stores.Blobs.List(ctx) {
				if err != nil {
					yield(dirEntry{}, err)
					return
				}
				name := blobstore.Name(info.Digest)
				d.sizes.put(name, info.Size)
				e := dirEntry{DirEntry: fuse.DirEntry{Name: name, Mode: syscall.S_IFREG}}
				e.lookup = func(ctx context.Context, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
					if d.root.liveBlobs.Load() >= d.root.plusLimit {
						return nil, syscall.ENOENT
					}
					return d.child(ctx, name, info.Digest, info.Size, "", out), 0
				}
				if !yield(e, nil) {
					return
				}
			}
		}
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/blobs", err) }), 0, 0
}

// plusLimit bounds the blob inodes READDIRPLUS creates ahead of any
// lookup (each costs the daemon ~0.5 KiB until the kernel forgets it):
// beyond it a listing hands out names only.
const plusLimit = 1 << 16

func (d *blobsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (child *fs.Inode, errno syscall.Errno) {
	defer d.root.cfg.Metrics.FuseOp("lookup", time.Now())
	digest, err := blobstore.ParseName(name)
	if err != nil {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	canonical := blobstore.Name(digest)
	size, ok := d.sizes.get(canonical)
	var key string
	if !ok {
		var err error
		if size, key, err = d.stat(ctx, digest); err != nil {
			if errno := d.root.toErrno("lookup", "/blobs/"+canonical, err); errno != syscall.ENOENT {
				return nil, errno
			}
			out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
			return nil, syscall.ENOENT
		}
		d.sizes.put(canonical, size)
	}
	return d.child(ctx, name, digest, size, key, out), 0
}

// headSize is what a lookup reads of a blob it has not seen listed: the
// kernel's first READ of a file (16 KiB). A local file is stat'ed.
const headSize = 16 << 10

// stat learns a blob's size. From a remote store it GETs the blob's head
// rather than its metadata: the answer's Content-Range carries the size,
// and the bytes serve the first read of an open that usually follows, so
// open + first read cost one request, not two.
func (d *blobsDir) stat(ctx context.Context, digest mh.Multihash) (size int64, key string, err error) {
	if _, local := d.root.stores.Blobs.(blobstore.FileOpener); !local {
		obj, err := d.root.stores.Blobs.Get(ctx, digest, objectstore.WithRange(objectstore.Bytes(0, headSize-1)))
		if err == nil {
			defer obj.Close()
			head := make([]byte, min(headSize, obj.Size()))
			if _, err := io.ReadFull(obj, head); err != nil {
				return 0, "", fmt.Errorf("read the head of blob %s: %w", blobstore.Name(digest), err)
			}
			d.root.heads.put(string(digest), head)
			return obj.Size(), "", nil
		}
		if !errors.Is(err, objectstore.ErrRangeNotSatisfiable) {
			return 0, "", err
		}
		// an empty blob has no head: ask for its metadata
	}
	info, err := d.root.stores.Blobs.Stat(ctx, digest)
	return info.Size, info.Key, err
}

// child is the inode of the blob under name (reused while the kernel
// still knows it), with its attributes in out.
func (d *blobsDir) child(ctx context.Context, name string, digest mh.Multihash, size int64, key string, out *fuse.EntryOut) *fs.Inode {
	d.timeouts(out)
	if ch := d.GetChild(name); ch != nil {
		if bf, ok := ch.Operations().(*blobFile); ok {
			bf.attr(&out.Attr)
			return ch
		}
	}
	bf := &blobFile{root: d.root, digest: digest, size: size, key: key}
	bf.attr(&out.Attr)
	d.root.liveBlobs.Add(1)
	return d.NewInode(ctx, bf, fs.StableAttr{Mode: syscall.S_IFREG})
}

func (d *blobsDir) timeouts(out *fuse.EntryOut) {
	out.SetEntryTimeout(d.root.cfg.BlobTimeout)
	out.SetAttrTimeout(d.root.cfg.BlobTimeout)
}

// headCache keeps the heads lookups read until an open takes them, up to
// a bound: the oldest go first.
type headCache struct {
	mu    sync.Mutex
	m     map[string]headEntry
	order []headEntry // oldest first; entries taken or replaced are skipped
	seq   uint64
	max   int
}

type headEntry struct {
	digest string
	head   []byte
	seq    uint64
}

func newHeadCache(max int) *headCache { return &headCache{m: map[string]headEntry{}, max: max} }

func (c *headCache) put(digest string, head []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	e := headEntry{digest, head, c.seq}
	c.m[digest] = e
	c.order = append(c.order, headEntry{digest: digest, seq: e.seq})
	for len(c.m) > c.max || len(c.order) > 2*c.max {
		old := c.order[0]
		c.order = c.order[1:]
		if cur, ok := c.m[old.digest]; ok && cur.seq == old.seq {
			delete(c.m, old.digest)
		}
	}
}

func (c *headCache) take(digest string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[digest]
	delete(c.m, digest)
	return e.head
}

// sizeCache remembers listed sizes, up to a bound.
type sizeCache struct {
	mu  sync.Mutex
	m   map[string]int64
	max int
}

func newSizeCache(max int) *sizeCache { return &sizeCache{m: map[string]int64{}, max: max} }

func (c *sizeCache) put(name string, size int64) {
	c.mu.Lock()
	if len(c.m) < c.max {
		c.m[name] = size
	}
	c.mu.Unlock()
}

func (c *sizeCache) get(name string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size, ok := c.m[name]
	return size, ok
}

// blobFile is one blob: immutable, so its attributes and pages are cached
// for long.
type blobFile struct {
	fs.Inode
	root   *Root
	digest mh.Multihash
	size   int64
	keyMu  sync.Mutex
	key    string // backend key, learnt lazily
	// corrupt is set when a verified read found the bytes do not match
	// the multihash: every later read of the blob fails too.
	corrupt atomic.Bool

	streamsMu sync.Mutex
	opens     int       // open files of the blob
	streams   []*stream // its runs of reads, while it is open
	head      []byte    // its first bytes, when a lookup fetched them
	tick      uint64
}

var (
	_ fs.NodeGetattrer   = (*blobFile)(nil)
	_ fs.NodeOpener      = (*blobFile)(nil)
	_ fs.NodeSetattrer   = (*blobFile)(nil)
	_ fs.NodeGetxattrer  = (*blobFile)(nil)
	_ fs.NodeListxattrer = (*blobFile)(nil)
	_ fs.NodeOnForgetter = (*blobFile)(nil)
	_ fs.NodeFlusher     = (*blobFile)(nil)
)

func (f *blobFile) OnForget() { f.root.liveBlobs.Add(-1) }

// Flush answers ENOSYS: nothing is ever written, and the kernel then
// stops sending FLUSH on every close (one round trip less per file).
func (f *blobFile) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return syscall.ENOSYS }

func (f *blobFile) attr(a *fuse.Attr) { f.root.fileAttr(a, f.size) }

func (f *blobFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.attr(&out.Attr)
	out.SetTimeout(f.root.cfg.BlobTimeout)
	return 0
}

func (f *blobFile) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (f *blobFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	if fo, ok := f.root.stores.Blobs.(blobstore.FileOpener); ok && !f.root.cfg.Verify {
		// A local file: the kernel reads it itself when it granted
		// passthrough; otherwise go-fuse serves it with pread.
		file, err := fo.OpenFile(f.digest)
		if err == nil {
			if f.root.cfg.NoPassthrough {
				return &preadFile{f: file}, fuse.FOPEN_KEEP_CACHE, 0
			}
			return fs.NewLoopbackFileFromOS(file), fuse.FOPEN_KEEP_CACHE, 0
		}
		return nil, 0, f.root.toErrno("open", blobstore.Name(f.digest), err)
	}
	f.streamsMu.Lock()
	if f.opens++; f.opens == 1 {
		f.head = f.root.heads.take(string(f.digest))
	}
	f.streamsMu.Unlock()
	h := &blobHandle{f: f}
	if f.root.cfg.Verify {
		if v, err := blobstore.NewVerifier(f.digest); err == nil {
			h.verifier = v
		}
	}
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

// xattr names.
const (
	xattrCID       = "user.storefs.cid"
	xattrMultihash = "user.storefs.multihash"
	xattrKey       = "user.storefs.key"
)

var blobXattrs = []byte(xattrCID + "\x00" + xattrMultihash + "\x00" + xattrKey + "\x00")

func (f *blobFile) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if len(dest) < len(blobXattrs) {
		return uint32(len(blobXattrs)), syscall.ERANGE
	}
	return uint32(copy(dest, blobXattrs)), 0
}

func (f *blobFile) Getxattr(ctx context.Context, attr string, dest []byte) (n uint32, errno syscall.Errno) {
	defer f.root.cfg.Metrics.FuseOp("getxattr", time.Now())
	var val string
	switch attr {
	case xattrCID:
		val = cid.NewCidV1(cid.Raw, f.digest).String()
	case xattrMultihash:
		val = "z" + blobstore.Base58(f.digest)
	case xattrKey:
		key, err := f.backendKey(ctx)
		if err != nil {
			return 0, f.root.toErrno("getxattr", blobstore.Name(f.digest), err)
		}
		val = key
	default:
		return 0, syscall.ENODATA
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

func (f *blobFile) backendKey(ctx context.Context) (string, error) {
	f.keyMu.Lock()
	defer f.keyMu.Unlock()
	if f.key == "" {
		info, err := f.root.stores.Blobs.Stat(ctx, f.digest)
		if err != nil {
			return "", err
		}
		f.key = info.Key
	}
	return f.key, nil
}

// blobHandle reads a blob through the mount's prefetch pool: sequential
// readers get growing, parallel read-ahead; random readers get ranged reads
// of what they asked for.
type blobHandle struct {
	f *blobFile

	mu       sync.Mutex
	verifier *blobstore.Verifier // nil unless --verify
	hashed   int64               // bytes verified in order so far
}

// stream is one run of reads of a blob. Streams belong to the blob, not
// to an open file: the kernel fills one page cache per blob and spreads
// its read-ahead over whichever handles are open, so two readers of one
// blob form one stream and fetch it once.
type stream struct {
	mu   sync.Mutex // one read at a time
	r    *prefetch.Reader
	used uint64 // guarded by blobFile.streamsMu
}

// maxStreams bounds the runs kept per blob; past it the least recently
// used one serves.
const maxStreams = 8

// stream picks the run a read at off continues, or starts one.
func (f *blobFile) stream(off int64) *stream {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	f.tick++
	var lru *stream
	for _, s := range f.streams {
		if s.r.Continues(off) {
			s.used = f.tick
			return s
		}
		if lru == nil || s.used < lru.used {
			lru = s
		}
	}
	if len(f.streams) >= maxStreams {
		lru.used = f.tick
		return lru
	}
	s := &stream{r: f.root.pool.NewReader(string(f.digest), f.size, f.fetch), used: f.tick}
	if f.head != nil {
		s.r.Seed(f.head)
	}
	f.streams = append(f.streams, s)
	return s
}

var (
	_ fs.FileReader   = (*blobHandle)(nil)
	_ fs.FileReleaser = (*blobHandle)(nil)
)

func (f *blobFile) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return f.root.stores.Blobs.Get(ctx, f.digest, objectstore.WithRange(objectstore.Bytes(off, off+n-1)))
}

func (h *blobHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.f
	defer f.root.cfg.Metrics.FuseOp("read", time.Now())
	if off >= f.size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	if f.corrupt.Load() {
		return nil, syscall.EIO
	}
	s := f.stream(off)
	s.mu.Lock()
	data, release, err := s.r.View(ctx, dest, off)
	s.mu.Unlock()
	if err != nil {
		release()
		return nil, f.root.toErrno("read", blobstore.Name(f.digest), err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if errno := h.verify(data, off); errno != 0 {
		release()
		return nil, errno
	}
	f.root.cfg.Metrics.Served(len(data))
	return readResult{data, release}, 0
}

// verify hashes bytes read in order from the start; the read that
// completes the blob fails when the digest does not match.
func (h *blobHandle) verify(data []byte, off int64) syscall.Errno {
	if h.verifier == nil {
		return 0
	}
	if off != h.hashed {
		if off < h.hashed && off+int64(len(data)) <= h.hashed {
			return 0 // a re-read of verified bytes
		}
		h.verifier = nil // not a sequential read: cannot verify
		return 0
	}
	h.verifier.Write(data)
	h.hashed += int64(len(data))
	if h.hashed == h.f.size {
		if err := h.verifier.Check(); err != nil {
			h.f.root.log.Error("verify failed: blob bytes do not match their multihash", "blob", blobstore.Name(h.f.digest))
			h.f.corrupt.Store(true)
			return syscall.EIO
		}
	}
	return 0
}

// Release lets the blob's runs go with its last open file.
func (h *blobHandle) Release(ctx context.Context) syscall.Errno {
	f := h.f
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if f.opens--; f.opens == 0 {
		for _, s := range f.streams {
			s.mu.Lock()
			s.r.Close()
			s.mu.Unlock()
		}
		f.streams, f.head = nil, nil
	}
	return 0
}

// preadFile serves a local blob file with pread (no passthrough).
type preadFile struct{ f *os.File }

var (
	_ fs.FileReader   = (*preadFile)(nil)
	_ fs.FileReleaser = (*preadFile)(nil)
)

func (p *preadFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := p.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fs.ToErrno(err)
	}
	return readResult{data: dest[:n]}, 0
}

func (p *preadFile) Release(ctx context.Context) syscall.Errno { return fs.ToErrno(p.f.Close()) }
