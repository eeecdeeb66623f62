package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/render"
)

// carsDir is /cars: a directory per blob the catalogue knows to be a CAR
// (an upload's shard or index). It shows what is catalogued so far; a
// refresh under way adds to it.
type carsDir struct {
	fs.Inode
	dir
	cat *catalog.Catalog
}

var (
	_ fs.NodeOpendirHandler = (*carsDir)(nil)
	_ fs.NodeLookuper       = (*carsDir)(nil)
	_ fs.NodeGetattrer      = (*carsDir)(nil)
)

func (d *carsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			err := d.cat.CARs(ctx, func(b catalog.Blob) bool {
				return yield(fuse.DirEntry{Name: blobstore.Name(b.Digest), Mode: syscall.S_IFDIR}, nil)
			})
			if err != nil {
				yield(fuse.DirEntry{}, err)
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/cars", err) }), 0, 0
}

func (d *carsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	digest, err := blobstore.ParseName(name)
	if err != nil || blobstore.Name(digest) != name {
		return d.missing(out)
	}
	b, ok, err := d.cat.Blob(ctx, digest)
	if err != nil {
		return nil, d.root.toErrno("lookup", "/cars/"+name, err)
	}
	if !ok || b.Kind == carblob.Other {
		return d.missing(out)
	}
	return d.subdir(ctx, &d.Inode, name, &carDir{dir: d.dir, cat: d.cat, blob: b}, out), 0
}

// missing is a name that is not a catalogued CAR, remembered briefly: a
// refresh may catalogue it.
func (d dir) missing(out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
	return nil, syscall.ENOENT
}

// carDir is /cars/<b32>: roots, blocks/, and for an index index.json and
// shards/.
type carDir struct {
	fs.Inode
	dir
	cat  *catalog.Catalog
	blob catalog.Blob
}

var (
	_ fs.NodeReaddirer = (*carDir)(nil)
	_ fs.NodeLookuper  = (*carDir)(nil)
	_ fs.NodeGetattrer = (*carDir)(nil)
)

func (d *carDir) entries() []fuse.DirEntry {
	out := []fuse.DirEntry{{Name: "roots", Mode: syscall.S_IFREG}, {Name: "blocks", Mode: syscall.S_IFDIR}}
	if d.blob.Kind == carblob.Index {
		out = append(out, fuse.DirEntry{Name: "index.json", Mode: syscall.S_IFREG}, fuse.DirEntry{Name: "shards", Mode: syscall.S_IFDIR})
	}
	return out
}

func (d *carDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return fs.NewListDirStream(d.entries()), 0
}

func (d *carDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	index := d.blob.Kind == carblob.Index
	switch {
	case name == "roots":
		var b strings.Builder
		for _, r := range d.blob.Roots {
			b.WriteString(r.String() + "\n")
		}
		return d.file(ctx, &d.Inode, []byte(b.String()), out), 0
	case name == "blocks":
		return d.subdir(ctx, &d.Inode, name, &blocksDir{dir: d.dir, cat: d.cat, blob: d.blob}, out), 0
	case name == "index.json" && index:
		ix, errno := d.index(ctx)
		if errno != 0 {
			return nil, errno
		}
		data, err := renderIndex(ctx, d.cat, ix)
		if err != nil {
			return nil, d.root.toErrno("lookup", d.path(name), err)
		}
		return d.file(ctx, &d.Inode, data, out), 0
	case name == "shards" && index:
		ix, errno := d.index(ctx)
		if errno != 0 {
			return nil, errno
		}
		return d.subdir(ctx, &d.Inode, name, &shardsDir{dir: d.dir, ix: ix}, out), 0
	}
	return d.missing(out)
}

func (d *carDir) path(name string) string {
	return "/cars/" + blobstore.Name(d.blob.Digest) + "/" + name
}

// index reads and decodes the index blob (KB to MB: read whole, each
// block checked against its CID).
func (d *carDir) index(ctx context.Context) (*carblob.ShardedIndex, syscall.Errno) {
	obj, err := d.root.stores.Blobs.Get(ctx, d.blob.Digest)
	if err != nil {
		return nil, d.root.toErrno("read", d.path("index.json"), err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, carblob.MaxIndex+1))
	if err != nil {
		return nil, d.root.toErrno("read", d.path("index.json"), err)
	}
	ix, err := carblob.DecodeIndex(data)
	if err != nil {
		d.root.log.Error("an index blob does not decode", "blob", blobstore.Name(d.blob.Digest), "err", err)
		return nil, syscall.EIO
	}
	return ix, 0
}

// indexJSON is an index as /cars/<b32>/index.json shows it.
type indexJSON struct {
	Content string           `json:"content"`
	Shards  []indexShardJSON `json:"shards"`
}

type indexShardJSON struct {
	Shard  string      `json:"shard"`
	Here   bool        `json:"here"`
	Slices []sliceJSON `json:"slices"`
}

type sliceJSON struct {
	Multihash string `json:"multihash"`
	Offset    uint64 `json:"offset"`
	Length    uint64 `json:"length"`
}

func renderIndex(ctx context.Context, cat *catalog.Catalog, ix *carblob.ShardedIndex) ([]byte, error) {
	out := indexJSON{Content: ix.Content.String(), Shards: []indexShardJSON{}}
	for _, s := range ix.Shards {
		_, here, err := cat.Blob(ctx, s.Shard)
		if err != nil {
			return nil, err
		}
		sj := indexShardJSON{Shard: blobstore.Name(s.Shard), Here: here, Slices: make([]sliceJSON, 0, len(s.Slices))}
		for _, sl := range s.Slices {
			sj.Slices = append(sj.Slices, sliceJSON{Multihash: blobstore.Name(sl.Digest), Offset: sl.Offset, Length: sl.Length})
		}
		out.Shards = append(out.Shards, sj)
	}
	return render.JSON(out)
}

// shardsDir is /cars/<index>/shards: a relative symlink per shard the
// index names, to its /blobs entry (dangling where this node lacks it).
type shardsDir struct {
	fs.Inode
	dir
	ix *carblob.ShardedIndex
}

var (
	_ fs.NodeReaddirer = (*shardsDir)(nil)
	_ fs.NodeLookuper  = (*shardsDir)(nil)
	_ fs.NodeGetattrer = (*shardsDir)(nil)
)

func (d *shardsDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var out []fuse.DirEntry
	for _, s := range d.ix.Shards {
		out = append(out, fuse.DirEntry{Name: blobstore.Name(s.Shard), Mode: syscall.S_IFLNK})
	}
	return fs.NewListDirStream(out), 0
}

func (d *shardsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	for _, s := range d.ix.Shards {
		if blobstore.Name(s.Shard) == name {
			return d.symlink(ctx, &d.Inode, name, "../../../blobs/"+name, out), 0
		}
	}
	return d.missing(out)
}

// blocksDir is /cars/<b32>/blocks: a file per block of the CAR, named by
// its CID.
type blocksDir struct {
	fs.Inode
	dir
	cat  *catalog.Catalog
	blob catalog.Blob
}

var (
	_ fs.NodeOpendirHandler = (*blocksDir)(nil)
	_ fs.NodeLookuper       = (*blocksDir)(nil)
	_ fs.NodeGetattrer      = (*blocksDir)(nil)
)

func (d *blocksDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	name := "/cars/" + blobstore.Name(d.blob.Digest) + "/blocks"
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			blocks, err := d.cat.Blocks(ctx, d.root.stores.Blobs, d.blob.Digest)
			for _, b := range blocks {
				if !yield(fuse.DirEntry{Name: b.CID.String(), Mode: syscall.S_IFREG}, nil) {
					return
				}
			}
			if err != nil {
				// A CAR cut short lists the blocks before the cut.
				d.root.log.Warn("a CAR ends early: its blocks before the cut are listed", "blob", blobstore.Name(d.blob.Digest), "err", err)
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", name, err) }), 0, 0
}

func (d *blocksDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	c, err := cid.Decode(name)
	if err != nil || c.String() != name {
		return d.missing(out)
	}
	off, length, found, err := d.locate(ctx, c)
	if err != nil {
		return nil, d.root.toErrno("lookup", "/cars/"+blobstore.Name(d.blob.Digest)+"/blocks/"+name, err)
	}
	if !found {
		return d.missing(out)
	}
	f := &blockFile{root: d.root, blob: d.blob, c: c, off: off, length: length}
	d.root.fileAttr(&out.Attr, int64(length), time.Time{})
	out.SetEntryTimeout(blobTimeout)
	out.SetAttrTimeout(blobTimeout)
	return d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG}), 0
}

// locate finds a block in the CAR: where an index (or an earlier scan)
// puts its multihash in this blob, else in the CAR's scanned table.
func (d *blocksDir) locate(ctx context.Context, c cid.Cid) (off, length uint64, ok bool, err error) {
	locs, err := d.cat.Find(ctx, c.Hash())
	if err != nil {
		return 0, 0, false, err
	}
	for _, l := range locs {
		if bytes.Equal(l.Shard, d.blob.Digest) && (l.Offset != 0 || l.Length != uint64(d.blob.Size)) {
			return l.Offset, l.Length, true, nil
		}
	}
	blocks, err := d.cat.Blocks(ctx, d.root.stores.Blobs, d.blob.Digest)
	for _, b := range blocks {
		if b.CID.Equals(c) {
			return b.Offset, b.Length, true, nil
		}
	}
	if err != nil && len(blocks) == 0 {
		return 0, 0, false, err
	}
	return 0, 0, false, nil
}

// blockFile is one block of a CAR: its bytes, read from the blob through
// the read stack and hashed against the CID when opened; a block whose
// bytes do not match is EIO, never served.
type blockFile struct {
	fs.Inode
	readOnly
	root        *Root
	blob        catalog.Blob
	c           cid.Cid
	off, length uint64
}

var (
	_ fs.NodeGetattrer = (*blockFile)(nil)
	_ fs.NodeOpener    = (*blockFile)(nil)
	_ fs.NodeReader    = (*blockFile)(nil)
)

func (f *blockFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.root.fileAttr(&out.Attr, int64(f.length), time.Time{})
	out.SetTimeout(blobTimeout)
	return 0
}

// blockHandle holds a block checked against its CID.
type blockHandle struct{ data []byte }

func (f *blockFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	ctx, cancel := f.root.bound(ctx)
	defer cancel()
	name := fmt.Sprintf("/cars/%s/blocks/%s", blobstore.Name(f.blob.Digest), f.c)
	if f.length > carblob.MaxSection || f.off+f.length > uint64(f.blob.Size) {
		f.root.log.Error("a block lies past its CAR's end or is too large; not served", "block", name, "offset", f.off, "length", f.length)
		return nil, 0, syscall.EIO
	}
	data := make([]byte, f.length)
	if f.length > 0 { // an empty block (an empty file's raw leaf) reads nothing
		rs := f.root.stack.Blob(f.blob.Digest, f.blob.Size)
		body, err := rs.ReadRange(ctx, int64(f.off), int64(f.length))
		if err != nil {
			return nil, 0, f.root.toErrno("read", name, err)
		}
		defer body.Close()
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, 0, f.root.toErrno("read", name, err)
		}
	}
	if !carblob.BlockMatches(f.c, data) {
		f.root.log.Error("a block does not match its CID; not served", "block", name)
		return nil, 0, syscall.EIO
	}
	return &blockHandle{data: data}, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *blockFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*blockHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	return f.root.serveBytes(h.data, dest, off), 0
}
