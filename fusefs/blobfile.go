package fusefs

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/store/blobstore"
)

// blobFile is a blob inode's open state: made at its first open, kept
// while it has open files or what --verify learnt of it, and never for
// the blob inodes of a walk, which are nodeTable entries only.
type blobFile struct {
	root   *Root
	digest mh.Multihash
	size   int64
	pins   int // opens in progress and open files; guarded by Root.statesMu
	// rs is the blob's read stack: the store, the cache, and --verify's
	// checks, with what they learnt of the blob.
	rs *readstack.Blob

	streamsMu sync.Mutex
	opens     int // open files of the blob the daemon serves
	// passOpens are its open files served from the cache file.
	passOpens int
	streams   []*stream // its runs of reads, while it is open
	head      []byte    // its first bytes, when a lookup fetched them
	tick      uint64
	// backing is the kernel's id of the file passthrough opens read
	// (one per inode: fs/fuse/iomode.c), while backingRefs of them are
	// open.
	backing     int32
	backingRefs int
}

// idle says whether nothing of the state is worth keeping: no open
// file, and nothing --verify learnt. streamsMu is held.
func (f *blobFile) idle() bool {
	return f.opens == 0 && f.passOpens == 0 && f.backingRefs == 0 && f.rs.Idle()
}

// blobAttr is a blob's attributes. Its link count is 1 + the spaces that
// accepted it, once /spaces has been read (a /blobs listing does not
// read every acceptance to count them).
func (r *Root) blobAttr(a *fuse.Attr, id uint64, digest mh.Multihash, size int64, mtime time.Time) {
	r.fileAttr(a, size, mtime)
	a.Ino = id
	if t := r.spaces.Loaded(); t != nil {
		a.Nlink += t.Links(digest)
	}
}

// Open takes the mount's read path for the blob: its local file, read by
// the kernel (passthrough) or by the daemon (pread), or the store through
// the prefetch pool.
func (f *blobFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	switch path := f.root.paths.open(); path {
	case viaPassthrough, viaPread:
		file, err := f.root.paths.files.OpenFile(f.digest)
		if err != nil {
			return nil, 0, f.root.toErrno("open", blobstore.Name(f.digest), err)
		}
		if path == viaPread {
			return &preadFile{f: file}, fuse.FOPEN_KEEP_CACHE, 0
		}
		// go-fuse hands the file to the kernel, and serves it with
		// pread should the kernel refuse this one.
		return fs.NewLoopbackFileFromOS(file), fuse.FOPEN_KEEP_CACHE, 0
	}
	if err := f.rs.Open(); err != nil {
		return nil, 0, f.root.toErrno("open", blobstore.Name(f.digest), err)
	}
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if fh := f.openCached(); fh != nil {
		return fh, fuse.FOPEN_KEEP_CACHE, 0
	}
	if f.opens++; f.opens == 1 {
		f.head = f.root.heads.take(string(f.digest))
	}
	return &blobHandle{f: f}, fuse.FOPEN_KEEP_CACHE, 0
}

// openCached opens a blob whose every byte is in the cache on its cache
// file, which the kernel then reads itself (passthrough). Not while the
// daemon serves an open file of the blob: the kernel fails an open in
// passthrough mode of an inode open in cached mode, and the reverse
// (fs/fuse/iomode.c). So once one open takes the cache file, later ones
// do too until the last is closed. streamsMu is held.
func (f *blobFile) openCached() fs.FileHandle {
	if f.root.cfg.NoPassthrough || f.opens > 0 {
		return nil
	}
	file := f.rs.CachedFile()
	if file == nil {
		return nil
	}
	f.passOpens++
	return &cachedFile{LoopbackFile: fs.NewLoopbackFileFromOS(file), f: f}
}

// cachedFile is an open file on a blob's cache file.
type cachedFile struct {
	*fs.LoopbackFile
	f *blobFile
}

func (c *cachedFile) Release(ctx context.Context) syscall.Errno {
	errno := c.LoopbackFile.Release(ctx)
	c.f.streamsMu.Lock()
	c.f.passOpens--
	c.f.streamsMu.Unlock()
	c.f.rs.Close()
	return errno
}

// xattr names.
const (
	xattrCID       = "user.storefs.cid"
	xattrMultihash = "user.storefs.multihash"
	xattrKey       = "user.storefs.key"
	xattrLayout    = "user.storefs.layout"
	xattrPiece     = "user.storefs.piece"
)

const blobXattrs = xattrCID + "\x00" + xattrMultihash + "\x00" + xattrKey + "\x00" + xattrLayout + "\x00"

// listBlobXattrs lists a blob's xattrs: with PDP state, its piece too
// (absent, ENODATA, for a blob that has no commP).
func (r *Root) listBlobXattrs(dest []byte) (uint32, syscall.Errno) {
	list := blobXattrs
	if r.pdp != nil {
		list += xattrPiece + "\x00"
	}
	return xattrReply(dest, list)
}

func (r *Root) blobXattr(ctx context.Context, digest mh.Multihash, attr string, dest []byte) (n uint32, errno syscall.Errno) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var val string
	switch attr {
	case xattrCID:
		val = cid.NewCidV1(cid.Raw, digest).String()
	case xattrMultihash:
		val = "z" + blobstore.Base58(digest)
	case xattrPiece:
		if r.pdp == nil {
			return 0, syscall.ENODATA
		}
		p, ok, err := r.pdp.db.PieceOf(ctx, digest)
		if err != nil {
			r.log.Error("pdp state", "op", "getxattr", "blob", blobstore.Name(digest), "err", err)
			return 0, syscall.EIO
		}
		if !ok {
			return 0, syscall.ENODATA
		}
		val = p.CID
	case xattrKey, xattrLayout:
		// Asked of the store each time: a blob inode keeps no key, and
		// the attribute is asked rarely.
		info, err := r.stores.Blobs.Stat(ctx, digest)
		if err != nil {
			return 0, r.toErrno("getxattr", blobstore.Name(digest), err)
		}
		val = info.Key
		if attr == xattrLayout {
			val = info.Layout
		}
	default:
		return 0, xattrAbsent(attr)
	}
	return xattrReply(dest, val)
}
