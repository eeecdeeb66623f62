package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

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
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		if files := d.root.files; files != nil {
			// Local files: names only; sizes come from a stat at lookup.
			return func(yield func(dirEntry, error) bool) {
				for name, err := range files.ListNames(ctx) {
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
				meta := blobMeta{size: info.Size, mtime: info.ModTime}
				d.sizes.put(name, meta)
				e := dirEntry{DirEntry: fuse.DirEntry{Name: name, Mode: syscall.S_IFREG}}
				e.lookup = func(ctx context.Context, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
					if d.root.liveBlobs.Load() >= d.root.plusLimit {
						return nil, syscall.ENOENT
					}
					return d.child(ctx, &d.Inode, info.Digest, meta, out), 0
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
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	digest, err := blobstore.ParseName(name)
	if err != nil {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	canonical := blobstore.Name(digest)
	meta, ok := d.sizes.get(canonical)
	if !ok {
		var err error
		if meta, err = d.stat(ctx, digest); err != nil {
			if errno := d.root.toErrno("lookup", "/blobs/"+canonical, err); errno != syscall.ENOENT {
				return nil, errno
			}
			out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
			return nil, syscall.ENOENT
		}
		d.sizes.put(canonical, meta)
	}
	return d.child(ctx, &d.Inode, digest, meta, out), 0
}

// headSize is what a lookup reads of a blob it has not seen listed: the
// kernel's first READ of a file (16 KiB). A local file is stat'ed.
const headSize = 16 << 10

// blobMeta is what a lookup learns of a blob.
type blobMeta struct {
	size   int64
	mtime  time.Time // zero: the backend keeps none
	key    string    // the backend key and its layout, when the answer told them
	layout string
}

// stat learns a blob's size and time. From a remote store it GETs the blob's head
// rather than its metadata: the answer's Content-Range carries the size,
// and the bytes serve the first read of an open that usually follows, so
// open + first read cost one request, not two.
func (d *blobsDir) stat(ctx context.Context, digest mh.Multihash) (blobMeta, error) {
	if d.root.files == nil {
		obj, err := d.root.stores.Blobs.Get(ctx, digest, objectstore.WithRange(objectstore.Bytes(0, headSize-1)))
		if err == nil {
			defer obj.Close()
			head := make([]byte, min(headSize, obj.Size()))
			if _, err := io.ReadFull(obj, head); err != nil {
				return blobMeta{}, fmt.Errorf("read the head of blob %s: %w", blobstore.Name(digest), err)
			}
			d.root.heads.put(string(digest), head)
			return blobMeta{size: obj.Size(), mtime: obj.ModTime()}, nil
		}
		if !errors.Is(err, objectstore.ErrRangeNotSatisfiable) {
			return blobMeta{}, err
		}
		// an empty blob has no head: ask for its metadata
	}
	info, err := d.root.stores.Blobs.Stat(ctx, digest)
	return blobMeta{size: info.Size, mtime: info.ModTime, key: info.Key, layout: info.Layout}, err
}

// child is the blob's inode, with its attributes in out: the one the
// kernel already knows wherever it was looked up (/blobs under any of
// its names, /spaces/<space>), else a new one under parent.
func (d *blobsDir) child(ctx context.Context, parent *fs.Inode, digest mh.Multihash, meta blobMeta, out *fuse.EntryOut) *fs.Inode {
	d.timeouts(out)
	r := d.root
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	bf, ok := r.live[string(digest)]
	if !ok || bf.EmbeddedInode().Forgotten() { // forgotten: its OnForget is on its way
		bf = &blobFile{root: r, digest: digest, size: meta.size, mtime: meta.mtime, key: meta.key, layout: meta.layout}
		parent.NewInode(ctx, bf, fs.StableAttr{Mode: syscall.S_IFREG})
		r.live[string(digest)] = bf
		r.liveBlobs.Add(1)
	}
	bf.attr(&out.Attr)
	return bf.EmbeddedInode()
}

// hasBlobInode says whether the kernel holds the blob's inode.
func (r *Root) hasBlobInode(digest mh.Multihash) bool {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	_, ok := r.live[string(digest)]
	return ok
}

// forgetBlob drops a blob inode the kernel forgot.
func (r *Root) forgetBlob(f *blobFile) {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	if r.live[string(f.digest)] == f {
		delete(r.live, string(f.digest))
	}
	r.liveBlobs.Add(-1)
	if r.forgets.Add(1)%gcAfterForgets == 0 {
		r.collectSoon()
	}
}

// gcAfterForgets is the burst of forgotten blob inodes after which the
// daemon collects: a mount idle after a walk may not collect for minutes,
// and holds the forgotten inodes' memory until it does.
const gcAfterForgets = 4096

// collectSoon runs a collection that returns freed memory to the system,
// once a second at most, after the burst that asked for it.
func (r *Root) collectSoon() {
	if r.collecting.CompareAndSwap(false, true) {
		time.AfterFunc(time.Second, func() {
			debug.FreeOSMemory()
			r.collecting.Store(false)
		})
	}
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

// sizeCache remembers listed sizes and times, up to a bound.
type sizeCache struct {
	mu  sync.Mutex
	m   map[string]sizeTime
	max int
}

// sizeTime is a blobMeta without its key, the time in Unix nanoseconds
// (0: none): 16 bytes for each of millions of names.
type sizeTime struct{ size, mtime int64 }

func newSizeCache(max int) *sizeCache { return &sizeCache{m: map[string]sizeTime{}, max: max} }

func (c *sizeCache) put(name string, m blobMeta) {
	st := sizeTime{size: m.size}
	if !m.mtime.IsZero() {
		st.mtime = m.mtime.UnixNano()
	}
	c.mu.Lock()
	if len(c.m) < c.max {
		c.m[name] = st
	}
	c.mu.Unlock()
}

func (c *sizeCache) get(name string) (blobMeta, bool) {
	c.mu.Lock()
	st, ok := c.m[name]
	c.mu.Unlock()
	m := blobMeta{size: st.size}
	if st.mtime != 0 {
		m.mtime = time.Unix(0, st.mtime)
	}
	return m, ok
}
