package fusefs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
)

// blobsFS answers the FUSE requests for blob inodes and for the listing
// of /blobs itself, and hands every other request to go-fuse's node
// bridge. A node of a million-blob walk is then a nodeTable entry (64
// bytes, given back when the kernel forgets it) instead of a go-fuse
// Inode in Go maps that never shrink (~1 KiB each before).
//
// go-fuse's ids of /blobs and /spaces are asked of it at the start. Those
// of /spaces/<space> directories are learnt from the answers to their
// LOOKUPs, which pass through here: /spaces lists names only, so the
// kernel learns those ids from LOOKUP alone.
type blobsFS struct {
	fuse.RawFileSystem // go-fuse's bridge
	r                  *Root
	server             *fuse.Server

	blobsID   uint64
	spacesID  uint64   // 0: no /spaces
	spaceDirs sync.Map // go-fuse node id → space DID

	filesMu sync.Mutex
	files   map[uint64]*openBlob // by file handle, ours for blob inodes and /blobs
	dirs    map[uint64]*blobsListing
	nextFh  uint64
	// noBacking is set once the kernel refused a backing file:
	// passthrough handles are then served with pread.
	noBacking atomic.Bool
}

type openBlob struct {
	f       *blobFile
	h       fs.FileHandle
	backing bool // holds a reference of f.backing
}

func newBlobsFS(bridge fuse.RawFileSystem, r *Root) *blobsFS {
	b := &blobsFS{RawFileSystem: bridge, r: r, files: map[uint64]*openBlob{}, dirs: map[uint64]*blobsListing{}}
	// A lookup the kernel does not know of: one more than its count on
	// nodes that are never forgotten anyway (persistent).
	for name, id := range map[string]*uint64{"blobs": &b.blobsID, "spaces": &b.spacesID} {
		var out fuse.EntryOut
		if bridge.Lookup(nil, &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID}, name, &out).Ok() {
			*id = out.NodeId
		}
	}
	return b
}

func (b *blobsFS) Init(s *fuse.Server) {
	b.server = s
	b.RawFileSystem.Init(s)
}

func fuseCtx(h *fuse.InHeader, cancel <-chan struct{}) *fuse.Context {
	return &fuse.Context{Caller: h.Caller, Cancel: cancel}
}

// isBlobs says whether id is /blobs.
func (b *blobsFS) isBlobs(id uint64) bool { return id == b.blobsID }

// listsBlobs says whether id is a directory of blobs whose listing is
// ours: /blobs and /spaces/<space>.
func (b *blobsFS) listsBlobs(id uint64) bool {
	if b.isBlobs(id) {
		return true
	}
	_, ok := b.spaceDirs.Load(id)
	return ok
}

func (b *blobsFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(syscall.ENOTDIR)
	}
	var errno syscall.Errno
	switch {
	case b.isBlobs(h.NodeId):
		b.r.blobStats.Add(1)
		errno = b.r.lookupBlob(fuseCtx(h, cancel), name, out)
	default:
		space, ok := b.spaceDirs.Load(h.NodeId)
		if !ok {
			return b.lookupNode(cancel, h, name, out)
		}
		b.r.blobStats.Add(1)
		errno = b.r.lookupSpaceBlob(fuseCtx(h, cancel), space.(string), name, out)
	}
	if errno == syscall.ENOENT {
		*out = fuse.EntryOut{}
		out.SetEntryTimeout(b.r.cfg.NegativeTimeout)
		return fuse.OK
	}
	return fuse.Status(errno)
}

// lookupNode asks go-fuse, and learns the ids of space directories from
// its answers.
func (b *blobsFS) lookupNode(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := b.RawFileSystem.Lookup(cancel, h, name, out)
	if st.Ok() && out.NodeId != 0 && h.NodeId == b.spacesID && b.spacesID != 0 {
		b.spaceDirs.Store(out.NodeId, name)
	}
	return st
}

// lookupBlob answers a LOOKUP in /blobs: any name of a multihash.
func (r *Root) lookupBlob(ctx context.Context, name string, out *fuse.EntryOut) syscall.Errno {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	digest, err := blobstore.ParseName(name)
	if err != nil {
		return syscall.ENOENT
	}
	meta, err := r.learnBlob(ctx, digest)
	if err != nil {
		return r.toErrno("lookup", "/blobs/"+blobstore.Name(digest), err)
	}
	r.blobEntry(out, digest, meta)
	return 0
}

// blobEntry is the kernel's node of the blob, with a lookup counted: the
// one it already holds wherever it was looked up (/blobs under any of its
// names, /spaces/<space>), else a new one of meta.
func (r *Root) blobEntry(out *fuse.EntryOut, digest mh.Multihash, meta blobMeta) {
	id, size, mtime := r.nodes.Acquire(digest, meta.size, meta.mtime)
	out.NodeId, out.Generation = id, 0
	r.blobAttr(&out.Attr, id, digest, size, mtime)
	out.SetEntryTimeout(blobTimeout)
	out.SetAttrTimeout(blobTimeout)
}

func (b *blobsFS) Forget(id, nlookup uint64) {
	if !isBlobID(id) {
		b.RawFileSystem.Forget(id, nlookup)
		return
	}
	if !b.r.nodes.Forget(id, nlookup) {
		return
	}
	b.r.statesMu.Lock()
	delete(b.r.states, id) // no file is open: the kernel holds none of a forgotten inode
	b.r.statesMu.Unlock()
	if b.r.forgets.Add(1)%gcAfterForgets == 0 {
		b.r.collectSoon()
	}
}

func (b *blobsFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	switch {
	case isBlobID(in.NodeId):
		b.r.blobStats.Add(1)
		digest, size, mtime, ok := b.r.nodes.Get(in.NodeId)
		if !ok {
			return fuse.Status(syscall.ESTALE)
		}
		b.r.blobAttr(&out.Attr, in.NodeId, digest, size, mtime)
		out.SetTimeout(blobTimeout)
		return fuse.OK
	case b.listsBlobs(in.NodeId) && in.Fh() != 0: // fstat of our own handle
		b.r.dirAttr(&out.Attr)
		out.SetTimeout(b.r.cfg.RecordAttrTimeout)
		return fuse.OK
	}
	return b.RawFileSystem.GetAttr(cancel, in, out)
}

func (b *blobsFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if !isBlobID(in.NodeId) {
		return b.RawFileSystem.Open(cancel, in, out)
	}
	f := b.r.pinState(in.NodeId)
	if f == nil {
		return fuse.Status(syscall.ESTALE)
	}
	h, flags, errno := f.Open(fuseCtx(&in.InHeader, cancel), in.Flags)
	if errno != 0 {
		b.r.unpinState(in.NodeId, f)
		return fuse.Status(errno)
	}
	o := &openBlob{f: f, h: h}
	if p, ok := h.(fs.FilePassthroughFder); ok && !b.noBacking.Load() {
		if id, ok := b.backing(f, p); ok {
			o.backing = true
			out.BackingID = id
			flags |= fuse.FOPEN_PASSTHROUGH
			flags &^= fuse.FOPEN_KEEP_CACHE
		}
	}
	out.OpenFlags = flags
	out.Fh = b.addFile(o)
	return fuse.OK
}

// backing is the kernel's backing id of the blob's passthrough file:
// registered by its first passthrough open, shared by the later ones
// (the kernel takes one backing file per inode), let go by the last.
func (b *blobsFS) backing(f *blobFile, p fs.FilePassthroughFder) (int32, bool) {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if f.backingRefs == 0 {
		fd, ok := p.PassthroughFd()
		if !ok {
			return 0, false
		}
		id, errno := b.server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(fd)})
		if errno != 0 {
			// Not root, or no CAP_PASSTHROUGH: the handle serves reads.
			b.r.log.Warn("the kernel refused a passthrough file; blobs are read through the daemon", "err", errno)
			b.noBacking.Store(true)
			return 0, false
		}
		f.backing = id
	}
	f.backingRefs++
	return f.backing, true
}

func (b *blobsFS) releaseBacking(f *blobFile) {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	if f.backingRefs--; f.backingRefs == 0 {
		if errno := b.server.UnregisterBackingFd(f.backing); errno != 0 {
			b.r.log.Warn("the kernel did not let go of a passthrough file", "blob", blobstore.Name(f.digest), "err", errno)
		}
		f.backing = 0
	}
}

func (b *blobsFS) addFile(o *openBlob) uint64 {
	b.filesMu.Lock()
	defer b.filesMu.Unlock()
	b.nextFh++
	b.files[b.nextFh] = o
	return b.nextFh
}

func (b *blobsFS) file(fh uint64) *openBlob {
	b.filesMu.Lock()
	defer b.filesMu.Unlock()
	return b.files[fh]
}

func (b *blobsFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if !isBlobID(in.NodeId) {
		return b.RawFileSystem.Read(cancel, in, buf)
	}
	o := b.file(in.Fh)
	if o == nil {
		return nil, fuse.EBADF
	}
	r, ok := o.h.(fs.FileReader)
	if !ok {
		return nil, fuse.ENOSYS
	}
	res, errno := r.Read(fuseCtx(&in.InHeader, cancel), buf, int64(in.Offset))
	return res, fuse.Status(errno)
}

func (b *blobsFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if !isBlobID(in.NodeId) {
		b.RawFileSystem.Release(cancel, in)
		return
	}
	b.filesMu.Lock()
	o := b.files[in.Fh]
	delete(b.files, in.Fh)
	b.filesMu.Unlock()
	if o == nil {
		return
	}
	if r, ok := o.h.(fs.FileReleaser); ok {
		r.Release(fuseCtx(&in.InHeader, cancel))
	}
	if o.backing {
		b.releaseBacking(o.f)
	}
	b.r.unpinState(in.NodeId, o.f)
}

// pinState is the open state of blob id, made if it has none, and kept
// until unpinState: an open in progress or an open file holds it.
func (r *Root) pinState(id uint64) *blobFile {
	r.statesMu.Lock()
	defer r.statesMu.Unlock()
	f := r.states[id]
	if f == nil {
		digest, size, _, ok := r.nodes.Get(id)
		if !ok {
			return nil
		}
		f = &blobFile{root: r, digest: digest, size: size, rs: r.stack.Blob(digest, size)}
		r.states[id] = f
	}
	f.pins++
	return f
}

// unpinState lets the state go with its last pin, unless it keeps what
// --verify learnt of the blob.
func (r *Root) unpinState(id uint64, f *blobFile) {
	r.statesMu.Lock()
	defer r.statesMu.Unlock()
	if f.pins--; f.pins > 0 {
		return
	}
	f.streamsMu.Lock()
	idle := f.idle()
	f.streamsMu.Unlock()
	if idle && r.states[id] == f {
		delete(r.states, id)
	}
}

func (b *blobsFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if !isBlobID(h.NodeId) {
		return b.RawFileSystem.GetXAttr(cancel, h, attr, dest)
	}
	digest, _, _, ok := b.r.nodes.Get(h.NodeId)
	if !ok {
		return 0, fuse.Status(syscall.ESTALE)
	}
	n, errno := b.r.blobXattr(fuseCtx(h, cancel), digest, attr, dest)
	return n, fuse.Status(errno)
}

func (b *blobsFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	if !isBlobID(h.NodeId) {
		return b.RawFileSystem.ListXAttr(cancel, h, dest)
	}
	n, errno := b.r.listBlobXattrs(dest)
	return n, fuse.Status(errno)
}

func (b *blobsFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	if !isBlobID(in.NodeId) {
		return b.RawFileSystem.Access(cancel, in)
	}
	switch {
	case in.Mask&2 != 0: // W_OK
		return fuse.Status(syscall.EROFS)
	case in.Mask&1 != 0: // X_OK: blobs are 0444
		return fuse.EACCES
	}
	return fuse.OK
}

func (b *blobsFS) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(b.r.Statfs(fuseCtx(h, cancel), out))
	}
	return b.RawFileSystem.StatFs(cancel, h, out)
}

// The rest of a blob inode's answers are those of a read-only file, and
// of /blobs's handles those of a listing: none of them reaches go-fuse,
// which knows neither the ids nor the handles.

func (b *blobsFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.SetAttr(cancel, in, out)
}

func (b *blobsFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	if isBlobID(h.NodeId) {
		return nil, fuse.EINVAL
	}
	return b.RawFileSystem.Readlink(cancel, h)
}

func (b *blobsFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.ENOSYS // the kernel stops sending FLUSH
	}
	return b.RawFileSystem.Flush(cancel, in)
}

func (b *blobsFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.ENOTSUP
	}
	return b.RawFileSystem.Fsync(cancel, in)
}

func (b *blobsFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.ENOSYS // the kernel seeks by itself
	}
	return b.RawFileSystem.Lseek(cancel, in, out)
}

func (b *blobsFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.ENOSYS // as every node of the tree: the kernel uses GETATTR
	}
	return b.RawFileSystem.Statx(cancel, in, out)
}

func (b *blobsFS) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.ENOSYS
	}
	return b.RawFileSystem.GetLk(cancel, in, out)
}

func (b *blobsFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.ENOSYS
	}
	return b.RawFileSystem.SetLk(cancel, in)
}

func (b *blobsFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.ENOSYS
	}
	return b.RawFileSystem.SetLkw(cancel, in)
}

func (b *blobsFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	if isBlobID(in.NodeId) || b.isBlobs(in.NodeId) {
		return fuse.Status(syscall.ENOTTY)
	}
	return b.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
}

func (b *blobsFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	if isBlobID(in.NodeId) || isBlobID(in.NodeIdOut) {
		return 0, fuse.ENOSYS // the kernel copies by itself
	}
	return b.RawFileSystem.CopyFileRange(cancel, in)
}

func (b *blobsFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	switch {
	case isBlobID(in.NodeId):
		return fuse.ENOTDIR
	case b.listsBlobs(in.NodeId):
		var l *blobsListing
		if space, ok := b.spaceDirs.Load(in.NodeId); ok {
			l = b.r.spaceListing(space.(string))
		} else {
			l = b.r.blobs.listing()
		}
		b.filesMu.Lock()
		defer b.filesMu.Unlock()
		b.nextFh++
		b.dirs[b.nextFh] = l
		out.Fh = b.nextFh
		return fuse.OK
	}
	return b.RawFileSystem.OpenDir(cancel, in, out)
}

func (b *blobsFS) dir(in *fuse.ReadIn) *blobsListing {
	b.filesMu.Lock()
	defer b.filesMu.Unlock()
	return b.dirs[in.Fh]
}

func (b *blobsFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.ENOTDIR
	}
	if !b.listsBlobs(in.NodeId) {
		return b.RawFileSystem.ReadDir(cancel, in, out)
	}
	l := b.dir(in)
	if l == nil {
		return fuse.EBADF
	}
	return fuse.Status(l.read(fuseCtx(&in.InHeader, cancel), in.Offset, out, false))
}

func (b *blobsFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.ENOTDIR
	}
	if !b.listsBlobs(in.NodeId) {
		return b.RawFileSystem.ReadDirPlus(cancel, in, out)
	}
	l := b.dir(in)
	if l == nil {
		return fuse.EBADF
	}
	return fuse.Status(l.read(fuseCtx(&in.InHeader, cancel), in.Offset, out, true))
}

func (b *blobsFS) ReleaseDir(in *fuse.ReleaseIn) {
	if isBlobID(in.NodeId) {
		return // OPENDIR of a blob gave no handle
	}
	if !b.listsBlobs(in.NodeId) {
		b.RawFileSystem.ReleaseDir(in)
		return
	}
	b.filesMu.Lock()
	l := b.dirs[in.Fh]
	delete(b.dirs, in.Fh)
	b.filesMu.Unlock()
	if l != nil {
		l.h.stop()
	}
}

func (b *blobsFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	switch {
	case isBlobID(in.NodeId):
		return fuse.ENOTDIR
	case b.listsBlobs(in.NodeId):
		return fuse.OK
	}
	return b.RawFileSystem.FsyncDir(cancel, in)
}

// Changes are refused on a read-only mount. The kernel refuses most of
// them itself (MS_RDONLY), but a blob id must never reach go-fuse.

func (b *blobsFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Mknod(cancel, in, name, out)
}

func (b *blobsFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Mkdir(cancel, in, name, out)
}

func (b *blobsFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Unlink(cancel, h, name)
}

func (b *blobsFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Rmdir(cancel, h, name)
}

func (b *blobsFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if isBlobID(in.NodeId) || isBlobID(in.Newdir) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Rename(cancel, in, oldName, newName)
}

func (b *blobsFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if isBlobID(in.NodeId) || isBlobID(in.Oldnodeid) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Link(cancel, in, name, out)
}

func (b *blobsFS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Symlink(cancel, h, target, name, out)
}

func (b *blobsFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (b *blobsFS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	if isBlobID(h.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.RemoveXAttr(cancel, h, attr)
}

func (b *blobsFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Create(cancel, in, name, out)
}

func (b *blobsFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Tmpfile(cancel, in, out)
}

func (b *blobsFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if isBlobID(in.NodeId) {
		return 0, fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Write(cancel, in, data)
}

func (b *blobsFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if isBlobID(in.NodeId) {
		return 0, fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Writev(cancel, in, data)
}

func (b *blobsFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	if isBlobID(in.NodeId) {
		return fuse.Status(syscall.EROFS)
	}
	return b.RawFileSystem.Fallocate(cancel, in)
}

// blobsListing is an open /blobs (or /spaces/<space>): the backend
// listing (or the index's), answered as
// READDIR (names) or READDIRPLUS (names with their nodes, so that `ls
// -l`, `find | stat` and `du` need no LOOKUP per entry).
//
// A node of a local file costs a stat and a kernel inode, which a bare
// listing (`ls -f`, `find`) of a million names does not want; so only
// the first nodesFirst names, and everything listed once names of /blobs
// are being stat'ed, carry nodes of local files. A stat of a name with a
// node reaches the daemon only if the node's attributes have expired:
// so every probeEvery-th of the first names gets attributes that expire
// at once, and the GETATTR a stat of it sends tells the listing. GNU fts
// (`find`, `du`) reads 100,000 names before it stats any: without the
// probes, its second 100,000 were listed before anything was asked, and
// looked up one by one.
// The kernel's own heuristic (READDIRPLUS_AUTO) asks again for nodes only
// after a LOOKUP since its last READDIR, so a walk that stats behind the
// listing (`find | xargs stat`) got nodes for one answer in ten.
type blobsListing struct {
	mu    sync.Mutex
	root  *Root
	h     *dirHandle
	stats uint64 // Root.blobStats at open
	next  uint64 // offset of the entry the listing yields next
	// last is the batch answered last, from offset lastOff: a READDIR the
	// kernel repeats (it was interrupted) is answered from it.
	last    []dirEntry
	lastOff uint64
	// held is an entry taken from the listing that did not fit the
	// answer: the next one starts with it.
	held *dirEntry
}

// nodesFirst is how many names of a listing carry nodes of local files
// before anything is stat'ed: `ls -l` of a smaller directory then needs
// no LOOKUP at all, and GNU fts' first batch (gnulib's
// FTS_MAX_READDIR_ENTRIES, 100,000 names) comes with nodes. A bare
// listing pays a stat (in the listing's shard readers) and a kernel
// inode for each: `ls -f` of 1M took 1.24 s with 16,384, 1.89 s with
// 131,072.
const nodesFirst = 100_000

// probeEvery spaces the probes among the first names (blobsListing).
const probeEvery = 256

func (d *blobsDir) listing() *blobsListing {
	l := &blobsListing{root: d.root, stats: d.root.blobStats.Load()}
	l.h = d.handle(l.nodes)
	return l
}

// nodes says whether the names of a listing from position listed on
// carry nodes of local files.
func (l *blobsListing) nodes(listed uint64) bool {
	return listed < l.root.nodesFirst || l.root.blobStats.Load() != l.stats
}

func (l *blobsListing) read(ctx context.Context, off uint64, out *fuse.DirEntryList, plus bool) syscall.Errno {
	l.mu.Lock()
	defer l.mu.Unlock()
	var replay []dirEntry
	switch {
	case off == l.next:
		l.last, l.lastOff = l.last[:0], off
	case off >= l.lastOff && off < l.lastOff+uint64(len(l.last)):
		replay = l.last[off-l.lastOff:]
	default:
		if errno := l.h.Seekdir(ctx, off); errno != 0 {
			return errno
		}
		l.next, l.held = off, nil
		l.last, l.lastOff = l.last[:0], off
	}
	nodes := plus && l.nodes(off)
	for pos := off; ; pos++ {
		var e dirEntry
		replayed := len(replay) > 0
		switch {
		case replayed:
			e, replay = replay[0], replay[1:]
		case l.held != nil:
			e, l.held = *l.held, nil
		default:
			var ok bool
			var errno syscall.Errno
			if e, ok, errno = l.h.next(ctx); errno != 0 {
				if pos == off {
					return errno
				}
				return 0 // the error comes again with the next READDIR
			} else if !ok {
				return 0
			}
		}
		de := e.DirEntry
		de.Off = pos + 1
		var fits bool
		if plus {
			eo := out.AddDirLookupEntry(de)
			if fits = eo != nil; fits {
				probe := l.root.files != nil && pos < l.root.nodesFirst && pos%probeEvery == 0
				l.root.plusEntry(ctx, e, eo, nodes, probe)
			}
		} else if fits = out.AddDirEntry(de); fits {
			l.root.nameOnly(e)
		}
		if !fits {
			if !replayed {
				l.held = &e
			}
			return 0
		}
		if !replayed {
			l.last = append(l.last, e)
			l.next = de.Off
		}
	}
}

// plusEntry fills a READDIRPLUS entry's node from what the listing knew
// (S3 sizes, local files the listing stat'ed), or, when stat is set, a
// stat of the local file. Past plusLimit nodes, or when the file is gone,
// the entry stays a name (node id 0), which the kernel looks up if it
// needs to. A probe's attributes expire at once (blobsListing).
func (r *Root) plusEntry(ctx context.Context, e dirEntry, out *fuse.EntryOut, stat, probe bool) {
	if int64(r.nodes.Len()) >= r.plusLimit {
		r.nameOnly(e)
		return
	}
	digest, meta := e.digest, e.meta
	if digest == nil {
		if !stat {
			return
		}
		var err error
		if digest, err = blobstore.ParseName(e.Name); err != nil {
			return
		}
		if meta, err = r.learnBlob(ctx, digest); err != nil {
			return
		}
	}
	r.blobEntry(out, digest, meta)
	if probe {
		out.SetAttrTimeout(0)
	}
}

// nameOnly remembers the listed size of a blob handed out without a node
// (S3), so the LOOKUP the kernel sends for it costs no request.
func (r *Root) nameOnly(e dirEntry) {
	if e.digest != nil && r.files == nil {
		r.blobs.sizes.put(e.Name, e.meta)
	}
}

// LiveBlobs is how many blob inodes the kernel holds.
func (r *Root) LiveBlobs() int64 { return int64(r.nodes.Len()) }

func (b *blobsFS) String() string { return fmt.Sprintf("storefs(%s)", b.RawFileSystem.String()) }
