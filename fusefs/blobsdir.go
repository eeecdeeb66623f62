package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

// blobsDir is /blobs. Its listing and lookups are blobsFS's, which
// keeps blob inodes out of go-fuse's tree; go-fuse answers for the
// directory itself.
type blobsDir struct {
	fs.Inode
	dir
	sizes *sizeCache
}

var _ fs.NodeGetattrer = (*blobsDir)(nil)

// handle streams the backend listing. Sizes it carries (S3) answer
// READDIRPLUS, so `ls -l` costs no backend request and no round trip per
// entry. Local files are stat'ed by the listing, ahead of the kernel,
// where sized says their entries will carry nodes; elsewhere they come
// as names only.
func (d *blobsDir) handle(sized func(listed uint64) bool) *dirHandle {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		if files := d.root.files; files != nil {
			return func(yield func(dirEntry, error) bool) {
				var listed atomic.Uint64
				ask := func() bool { return sized(listed.Load()) }
				for info, err := range files.ListNames(ctx, ask) {
					listed.Add(1)
					e := dirEntry{DirEntry: fuse.DirEntry{Name: info.Key, Mode: syscall.S_IFREG}}
					if err == nil && info.Size >= 0 {
						if digest, perr := blobstore.ParseName(info.Key); perr == nil {
							e.digest, e.meta = digest, blobMeta{size: info.Size, mtime: info.ModTime}
						}
					}
					if !yield(e, err) || err != nil {
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
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: name, Mode: syscall.S_IFREG}, digest: info.Digest, meta: meta}, nil) {
					return
				}
			}
		}
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/blobs", err) })
}

// plusLimit bounds the blob inodes READDIRPLUS creates ahead of any
// lookup (a nodeTable entry each until the kernel forgets it): beyond it
// a listing hands out names only.
const plusLimit = 1 << 21

// headSize is what a lookup reads of a blob it has not seen listed: the
// kernel's first READ of a file (16 KiB). A local file is stat'ed.
const headSize = 16 << 10

// blobMeta is what a lookup learns of a blob.
type blobMeta struct {
	size  int64
	mtime time.Time // zero: the backend keeps none
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
	return blobMeta{size: info.Size, mtime: info.ModTime}, err
}

// learnBlob is what the kernel is told of a blob it gets a node of: what
// its node says if it holds one, else what a listing said (S3), else
// what stat learns.
func (r *Root) learnBlob(ctx context.Context, digest mh.Multihash) (blobMeta, error) {
	if size, mtime, ok := r.nodes.Known(digest); ok {
		return blobMeta{size: size, mtime: mtime}, nil
	}
	if r.files == nil { // only remote listings carry sizes
		if meta, ok := r.blobs.sizes.get(blobstore.Name(digest)); ok {
			return meta, nil
		}
	}
	return r.blobs.stat(ctx, digest)
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

// sizeCache remembers the listed sizes and times of blobs a listing
// handed out without a node (past plusLimit), up to a bound. A blob
// handed out with its node needs none: its node has them, and a blob
// the kernel forgot is asked of the backend again, so that a walk's
// memory comes back when the kernel lets go.
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
	st := sizeTime{size: m.size, mtime: unixNano(m.mtime)}
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
	return blobMeta{size: st.size, mtime: unixTime(st.mtime)}, ok
}
