package fusefs

import (
	"context"
	"iter"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/records"
)

// recordDir lists records (or one level of their ids) as files.
type recordDir struct {
	fs.Inode
	dir
	kind   records.Kind
	prefix string              // ids under this directory start with it
	ran    *receiptstore.Store // /receipts only: adds by-ran/
}

var (
	_ fs.NodeOpendirHandler = (*recordDir)(nil)
	_ fs.NodeLookuper       = (*recordDir)(nil)
	_ fs.NodeGetattrer      = (*recordDir)(nil)
)

const byRan = "by-ran"

func (d *recordDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			if d.ran != nil && !yield(fuse.DirEntry{Name: byRan, Mode: syscall.S_IFDIR}, nil) {
				return
			}
			lastDir := ""
			for e, err := range d.kind.List(ctx, d.prefix) {
				if err != nil {
					yield(fuse.DirEntry{}, err)
					return
				}
				rest := strings.TrimPrefix(e.ID, d.prefix)
				if sub, _, nested := strings.Cut(rest, "/"); nested {
					if sub != lastDir && !yield(fuse.DirEntry{Name: sub, Mode: syscall.S_IFDIR}, nil) {
						return
					}
					lastDir = sub
					continue
				}
				if !yield(fuse.DirEntry{Name: rest + ".json", Mode: syscall.S_IFREG}, nil) ||
					!yield(fuse.DirEntry{Name: rest + "." + d.kind.RawExt, Mode: syscall.S_IFREG}, nil) {
					return
				}
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", d.prefix, err) }), 0, 0
}

func (d *recordDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (child *fs.Inode, errno syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	if d.ran != nil && name == byRan {
		ch := d.GetChild(byRan)
		if ch == nil {
			ch = d.NewPersistentInode(ctx, &byRanDir{dir: d.dir, s: d.ran}, fs.StableAttr{Mode: syscall.S_IFDIR})
		}
		d.root.dirAttr(&out.Attr)
		return ch, 0
	}
	var data []byte
	var mtime time.Time
	var err error
	if stem, ok := strings.CutSuffix(name, ".json"); ok {
		data, mtime, err = d.kind.JSON(ctx, d.prefix+stem)
	} else if stem, ok := strings.CutSuffix(name, "."+d.kind.RawExt); ok {
		data, mtime, err = d.kind.Raw(ctx, d.prefix+stem)
	} else {
		return d.lookupDir(ctx, name, out)
	}
	if err != nil {
		if errno := d.root.toErrno("lookup", d.prefix+name, err); errno != syscall.ENOENT {
			return nil, errno
		}
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	f := &recordFile{root: d.root, data: data, mtime: mtime}
	f.root.fileAttr(&out.Attr, int64(len(data)), mtime)
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	return d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG}), 0
}

// lookupDir finds a directory level: it exists when some id is under it.
func (d *recordDir) lookupDir(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return nil, syscall.ENOENT
	}
	prefix := d.prefix + name + "/"
	for _, err := range d.kind.List(ctx, prefix) {
		if err != nil {
			return nil, d.root.toErrno("lookup", prefix, err)
		}
		return d.subdir(ctx, &d.Inode, name, &recordDir{dir: d.dir, kind: d.kind, prefix: prefix}, out), 0
	}
	out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
	return nil, syscall.ENOENT
}

// recordFile is a rendered record (or its stored bytes): KB sized, held
// whole, so its size is exact before the first read.
type recordFile struct {
	fs.Inode
	readOnly
	noXattrs
	root  *Root
	data  []byte
	mtime time.Time // zero: the mount's start
}

var (
	_ fs.NodeGetattrer = (*recordFile)(nil)
	_ fs.NodeOpener    = (*recordFile)(nil)
	_ fs.NodeReader    = (*recordFile)(nil)
)

func (f *recordFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.root.fileAttr(&out.Attr, int64(len(f.data)), f.mtime)
	out.SetTimeout(f.root.cfg.RecordAttrTimeout)
	return 0
}

func (f *recordFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *recordFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.root.serveBytes(f.data, dest, off), 0
}

// serveBytes answers a READ of bytes held whole.
func (r *Root) serveBytes(data, dest []byte, off int64) fuse.ReadResult {
	if off >= int64(len(data)) {
		return fuse.ReadResultData(nil)
	}
	data = data[off:min(int64(len(data)), off+int64(len(dest)))]
	r.cfg.Metrics.Served(len(data))
	return readResult{data: data}
}

// byRanDir is /receipts/by-ran: one symlink per invocation with a receipt.
type byRanDir struct {
	fs.Inode
	dir
	s *receiptstore.Store
}

var (
	_ fs.NodeOpendirHandler = (*byRanDir)(nil)
	_ fs.NodeLookuper       = (*byRanDir)(nil)
	_ fs.NodeGetattrer      = (*byRanDir)(nil)
)

func (d *byRanDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			for ran, err := range d.s.ListRan(ctx) {
				if !yield(fuse.DirEntry{Name: ran, Mode: syscall.S_IFLNK}, err) || err != nil {
					return
				}
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", byRan, err) }), 0, 0
}

func (d *byRanDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (child *fs.Inode, errno syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	receipt, err := d.s.ByRan(ctx, name)
	if err != nil {
		if errno := d.root.toErrno("lookup", byRan+"/"+name, err); errno != syscall.ENOENT {
			return nil, errno
		}
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	return d.symlink(ctx, &d.Inode, name, "../"+receipt+".json", out), 0
}

type link struct {
	fs.Inode
	noXattrs
	root   *Root
	target string
}

var (
	_ fs.NodeReadlinker = (*link)(nil)
	_ fs.NodeGetattrer  = (*link)(nil)
)

func (l *link) attr(a *fuse.Attr) {
	l.root.owner(a, time.Time{})
	a.Mode = syscall.S_IFLNK | 0o777
	a.Nlink = 1
	a.Size = uint64(len(l.target))
}

func (l *link) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.attr(&out.Attr)
	out.SetTimeout(l.root.cfg.RecordAttrTimeout)
	return 0
}

func (l *link) Readlink(ctx context.Context) ([]byte, syscall.Errno) { return []byte(l.target), 0 }
