package fusefs

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/content/blocks"
	"github.com/storacha/storefs/content/unixfs"
	"github.com/storacha/storefs/store/blobstore"
)

// contentAhead is how far a sequential reader of a /content file is
// fetched ahead of its reads: 16 leaves of the clients' 1 MiB.
const contentAhead = 16 << 20

// contentDir is /content: the files inside uploads, read in place. It
// lists the UnixFS roots the node can name (indexes' contents, CAR
// headers' roots); any CID whose block the catalogue locates can be
// looked up, such as a guppy upload's root, which its index does not
// name.
type contentDir struct {
	fs.Inode
	dir
	src *blocks.Source
}

var (
	_ fs.NodeOpendirHandler = (*contentDir)(nil)
	_ fs.NodeLookuper       = (*contentDir)(nil)
	_ fs.NodeGetattrer      = (*contentDir)(nil)
)

func (d *contentDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			err := d.root.cfg.Catalog.Roots(ctx, func(c cid.Cid) bool {
				return yield(fuse.DirEntry{Name: c.String()}, nil)
			})
			if err != nil {
				yield(fuse.DirEntry{}, err)
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/content", err) }), 0, 0
}

func (d *contentDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	c, err := cid.Decode(name)
	if err != nil || (c.Type() != cid.DagProtobuf && c.Type() != cid.Raw) {
		return d.missing(out)
	}
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	n, err := loadEntry(ctx, d.src, c)
	if errors.Is(err, blocks.ErrNotLocated) {
		return d.missing(out) // a refresh may locate it
	}
	if err != nil {
		return nil, d.root.contentErrno(d.src, "lookup", "/content/"+name, err)
	}
	return newContentInode(ctx, &d.Inode, d.root, d.src, n, "/content/"+name, out), 0
}

// loadEntry is the node of c for a lookup. A raw leaf is sized by the
// catalogue and read only when the file is: `ls -l` of a directory of
// small files fetches none of them, and no looked-up inode holds a
// leaf's bytes.
func loadEntry(ctx context.Context, src *blocks.Source, c cid.Cid) (*unixfs.Node, error) {
	if c.Type() != cid.Raw || c.Prefix().MhType == mh.IDENTITY {
		return unixfs.Load(ctx, src, c)
	}
	locs, err := src.Locate(ctx, c)
	if err != nil {
		return nil, err
	}
	return unixfs.RawLeaf(c, locs[0].Length), nil
}

// newContentInode makes the inode of a UnixFS node: blocks never change,
// so what is looked up is kept as long as blobs are.
func newContentInode(ctx context.Context, parent *fs.Inode, r *Root, src *blocks.Source, n *unixfs.Node, path string, out *fuse.EntryOut) *fs.Inode {
	base := contentNode{root: r, src: src, n: n, path: path}
	var node fs.InodeEmbedder
	mode := uint32(syscall.S_IFREG)
	switch n.Kind {
	case unixfs.KindDir, unixfs.KindHAMT:
		node, mode = &contentDirNode{contentNode: base}, syscall.S_IFDIR
	case unixfs.KindSymlink:
		node, mode = &contentLink{contentNode: base}, syscall.S_IFLNK
	default:
		node = &contentFile{contentNode: base}
	}
	base.attr(&out.Attr)
	out.Mode = mode | out.Mode&0o777
	out.SetEntryTimeout(blobTimeout)
	out.SetAttrTimeout(blobTimeout)
	return parent.NewInode(ctx, node, fs.StableAttr{Mode: mode})
}

// contentErrno is the errno of a failure to read UnixFS: malformed
// blocks, blocks that do not match their CIDs and blocks in shards this
// node lacks are EIO (each logged where it is found), a name a directory
// lacks ENOENT, a path through a file ENOTDIR.
func (r *Root) contentErrno(src *blocks.Source, op, path string, err error) syscall.Errno {
	var missing *blocks.MissingShardError
	switch {
	case errors.Is(err, unixfs.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, unixfs.ErrNotDir):
		return syscall.ENOTDIR
	case errors.As(err, &missing), errors.Is(err, blocks.ErrMismatch):
		return syscall.EIO // logged once by the block source
	case errors.Is(err, unixfs.ErrBad), errors.Is(err, unixfs.ErrNotUnixFS),
		errors.Is(err, blocks.ErrNotLocated), errors.Is(err, blocks.ErrTooLarge):
		if src.News(err.Error()) {
			r.log.Error("unreadable UnixFS", "op", op, "path", path, "err", err)
		}
		return syscall.EIO
	}
	return r.toErrno(op, path, err)
}

// contentNode is what every /content inode has: its UnixFS node, and
// the xattrs that say where its blocks are.
type contentNode struct {
	readOnly
	root *Root
	src  *blocks.Source
	n    *unixfs.Node
	path string
}

var (
	_ fs.NodeGetattrer   = (*contentFile)(nil)
	_ fs.NodeGetxattrer  = (*contentFile)(nil)
	_ fs.NodeListxattrer = (*contentDirNode)(nil)
)

func (c *contentNode) attr(a *fuse.Attr) {
	switch c.n.Kind {
	case unixfs.KindDir, unixfs.KindHAMT:
		c.root.dirAttr(a)
	case unixfs.KindSymlink:
		c.root.fileAttr(a, int64(c.n.Size), time.Time{})
		a.Mode = syscall.S_IFLNK | 0o777
	default:
		c.root.fileAttr(a, int64(c.n.Size), time.Time{})
	}
}

func (c *contentNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	c.attr(&out.Attr)
	out.SetTimeout(blobTimeout)
	return 0
}

const xattrShards = "user.storefs.shards"

const contentXattrs = xattrCID + "\x00" + xattrShards + "\x00"

func (c *contentNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return xattrReply(dest, contentXattrs)
}

// Getxattr: user.storefs.cid, the node's CID; user.storefs.shards, the
// shards its blocks lie in (b32, comma-separated, in the order its blocks
// need them; "!" before a shard this node lacks).
func (c *contentNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var val string
	switch attr {
	case xattrCID:
		val = c.n.CID.String()
	case xattrShards:
		ctx, cancel := c.root.bound(ctx)
		defer cancel()
		s, err := c.shards(ctx)
		if err != nil {
			return 0, c.root.contentErrno(c.src, "getxattr", c.path, err)
		}
		val = s
	default:
		return 0, xattrAbsent(attr)
	}
	return xattrReply(dest, val)
}

func (c *contentNode) shards(ctx context.Context) (string, error) {
	var names []string
	seen := map[string]bool{}
	var lerr error
	err := unixfs.BlocksOf(ctx, c.src, c.n, func(b cid.Cid) bool {
		if b.Prefix().MhType == 0 { // identity: in the CID itself
			return true
		}
		locs, err := c.src.Locate(ctx, b)
		if err != nil {
			lerr = err
			return false
		}
		for _, l := range locs {
			name := blobstore.Name(l.Shard)
			if !l.Here {
				name = "!" + name
			}
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
		return true
	})
	if lerr != nil {
		return "", lerr
	}
	return strings.Join(names, ","), err
}

// contentDirNode is a UnixFS directory, plain or HAMT. Its listing reads
// the directory's blocks only: entries are DT_UNKNOWN until looked up.
type contentDirNode struct {
	fs.Inode
	contentNode
}

var (
	_ fs.NodeOpendirHandler = (*contentDirNode)(nil)
	_ fs.NodeLookuper       = (*contentDirNode)(nil)
)

func (d *contentDirNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			var stopped bool
			err := unixfs.List(ctx, d.src, d.n, func(e unixfs.Entry) bool {
				stopped = !yield(fuse.DirEntry{Name: e.Name}, nil)
				return !stopped
			})
			if err != nil && !stopped {
				yield(fuse.DirEntry{}, err)
			}
		})
	}, func(err error) syscall.Errno { return d.root.contentErrno(d.src, "readdir", d.path, err) }), 0, 0
}

func (d *contentDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	e, err := unixfs.Lookup(ctx, d.src, d.n, name)
	if err != nil {
		if errors.Is(err, unixfs.ErrNotFound) {
			out.SetEntryTimeout(blobTimeout) // a directory never gains a name
		}
		return nil, d.root.contentErrno(d.src, "lookup", d.path+"/"+name, err)
	}
	n, err := loadEntry(ctx, d.src, e.CID)
	if err != nil {
		return nil, d.root.contentErrno(d.src, "lookup", d.path+"/"+name, err)
	}
	return newContentInode(ctx, &d.Inode, d.root, d.src, n, d.path+"/"+name, out), 0
}

// contentLink is a UnixFS symlink: its target as it was stored.
type contentLink struct {
	fs.Inode
	contentNode
}

var _ fs.NodeReadlinker = (*contentLink)(nil)

func (l *contentLink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return l.n.Data, 0
}

// contentFile is a UnixFS file. Its inner nodes, once read, are kept
// for every opener; each opener reads ahead of itself.
type contentFile struct {
	fs.Inode
	contentNode
	mu   sync.Mutex
	file *unixfs.File
}

var (
	_ fs.NodeOpener = (*contentFile)(nil)
	_ fs.NodeReader = (*contentFile)(nil)
)

type contentHandle struct{ r *unixfs.Reader }

var _ fs.FileReleaser = (*contentHandle)(nil)

func (h *contentHandle) Release(ctx context.Context) syscall.Errno {
	h.r.Close()
	return 0
}

func (f *contentFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	f.mu.Lock()
	if f.file == nil {
		file, err := unixfs.NewFile(f.src, f.n)
		if err != nil {
			f.mu.Unlock()
			return nil, 0, f.root.contentErrno(f.src, "open", f.path, err)
		}
		f.file = file
	}
	file := f.file
	f.mu.Unlock()
	return &contentHandle{r: file.Reader(contentAhead)}, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *contentFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*contentHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	ctx, cancel := f.root.bound(ctx)
	defer cancel()
	bufs, err := h.r.Slices(ctx, off, len(dest))
	if err != nil {
		return nil, f.root.contentErrno(f.src, "read", f.path, err)
	}
	res := slicesResult(bufs)
	f.root.cfg.Metrics.Served(res.Size())
	return res, 0
}

// slicesResult answers a READ with the blocks' own bytes, written with
// one writev (see readResult): no copy.
type slicesResult [][]byte

func (r slicesResult) Slices() ([][]byte, fuse.Status) { return r, fuse.OK }

func (r slicesResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if len(r) == 1 {
		return r[0], fuse.OK
	}
	buf = buf[:0]
	for _, b := range r {
		buf = append(buf, b...)
	}
	return buf, fuse.OK
}

func (r slicesResult) Size() int {
	n := 0
	for _, b := range r {
		n += len(b)
	}
	return n
}

func (r slicesResult) Done() {}
