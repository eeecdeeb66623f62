package fusefs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
)

// blobFile is one blob: immutable, so its attributes and pages are cached
// for long.
type blobFile struct {
	fs.Inode
	readOnly
	root   *Root
	digest mh.Multihash
	size   int64
	mtime  time.Time // when the backend stored it; zero: unknown
	keyMu  sync.Mutex
	key    string // backend key and its layout, learnt lazily
	layout string
	// verifier checks the blob under --verify, for every open file.
	verifier atomic.Pointer[blobVerifier] // set by the first open

	streamsMu sync.Mutex
	opens     int       // open files of the blob
	streams   []*stream // its runs of reads, while it is open
	head      []byte    // its first bytes, when a lookup fetched them
	tick      uint64
}

var (
	_ fs.NodeGetattrer   = (*blobFile)(nil)
	_ fs.NodeOpener      = (*blobFile)(nil)
	_ fs.NodeGetxattrer  = (*blobFile)(nil)
	_ fs.NodeListxattrer = (*blobFile)(nil)
	_ fs.NodeOnForgetter = (*blobFile)(nil)
)

func (f *blobFile) OnForget() { f.root.forgetBlob(f) }

// attr is the blob's attributes. Its link count is 1 + the spaces that
// accepted it, once /spaces has been read (a /blobs listing does not
// read every acceptance to count them).
func (f *blobFile) attr(a *fuse.Attr) {
	f.root.fileAttr(a, f.size, f.mtime)
	if t := f.root.spaces.loaded(); t != nil {
		a.Nlink += t.links[string(f.digest)]
	}
}

func (f *blobFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.attr(&out.Attr)
	out.SetTimeout(f.root.cfg.BlobTimeout)
	return 0
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
	if f.root.isCorrupt(f.digest) {
		return nil, 0, syscall.EIO
	}
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if f.root.cfg.Verify && f.verifier.Load() == nil {
		v, err := newBlobVerifier(f.digest, f.size, f.fetch)
		if err != nil {
			// Serving bytes --verify cannot check would be a silent skip.
			f.root.log.Error("cannot verify blob; refusing to serve it under --verify", "blob", blobstore.Name(f.digest), "err", err)
			return nil, 0, syscall.EIO
		}
		if _, err := v.Verdict(); err != nil { // an empty blob is decided at once
			return nil, 0, f.root.verifyFailed(f.digest, err)
		}
		f.verifier.Store(v)
	}
	if f.opens++; f.opens == 1 {
		f.head = f.root.heads.take(string(f.digest))
	}
	return &blobHandle{f: f}, fuse.FOPEN_KEEP_CACHE, 0
}

// xattr names.
const (
	xattrCID       = "user.storefs.cid"
	xattrMultihash = "user.storefs.multihash"
	xattrKey       = "user.storefs.key"
	xattrLayout    = "user.storefs.layout"
)

var blobXattrs = []byte(xattrCID + "\x00" + xattrMultihash + "\x00" + xattrKey + "\x00" + xattrLayout + "\x00")

func (f *blobFile) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if len(dest) < len(blobXattrs) {
		return uint32(len(blobXattrs)), syscall.ERANGE
	}
	return uint32(copy(dest, blobXattrs)), 0
}

func (f *blobFile) Getxattr(ctx context.Context, attr string, dest []byte) (n uint32, errno syscall.Errno) {
	ctx, cancel := f.root.bound(ctx)
	defer cancel()
	var val string
	switch attr {
	case xattrCID:
		val = cid.NewCidV1(cid.Raw, f.digest).String()
	case xattrMultihash:
		val = "z" + blobstore.Base58(f.digest)
	case xattrKey, xattrLayout:
		key, layout, err := f.backendKey(ctx)
		if err != nil {
			return 0, f.root.toErrno("getxattr", blobstore.Name(f.digest), err)
		}
		val = key
		if attr == xattrLayout {
			val = layout
		}
	default:
		if strings.HasPrefix(attr, "security.") || strings.HasPrefix(attr, "system.") {
			// Not "no such attribute" but "no such namespace": ls -l
			// then stops asking for SELinux labels and ACLs on every
			// entry (two round trips each).
			return 0, syscall.EOPNOTSUPP
		}
		return 0, syscall.ENODATA
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

// backendKey is the key that holds the blob and its Piri layout, asked
// of the store once.
func (f *blobFile) backendKey(ctx context.Context) (key, layout string, err error) {
	f.keyMu.Lock()
	defer f.keyMu.Unlock()
	if f.layout == "" {
		info, err := f.root.stores.Blobs.Stat(ctx, f.digest)
		if err != nil {
			return "", "", err
		}
		f.key, f.layout = info.Key, info.Layout
	}
	return f.key, f.layout, nil
}
