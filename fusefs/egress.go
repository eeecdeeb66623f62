package fusefs

import (
	"context"
	"iter"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/store/retrievaljournal"
)

// egressDir is /egress: the retrieval journal's batches, each as its
// bytes (.car) and decoded (.json); wip.car and wip.json are the batch
// Piri is appending to. Anything else in the journal directory (the old
// consolidation LevelDB) is not shown.
type egressDir struct {
	fs.Inode
	dir
	j *retrievaljournal.Journal
	// wip remembers the sizes of the batch in progress as last seen, so
	// a stat (uncached: attribute timeout 0) renders it only when Piri
	// has appended to it since.
	wipMu sync.Mutex
	wip   wipSizes
}

type wipSizes struct {
	size      int64 // of the file
	mtime     time.Time
	car, json int64 // of its snapshot, and that rendered
}

var (
	_ fs.NodeOpendirHandler = (*egressDir)(nil)
	_ fs.NodeLookuper       = (*egressDir)(nil)
	_ fs.NodeGetattrer      = (*egressDir)(nil)
)

const wipStem = "wip"

func (d *egressDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			batches, err := d.j.Batches()
			if err != nil {
				yield(fuse.DirEntry{}, err)
				return
			}
			for _, b := range batches {
				stem := batchStem(b)
				if !yield(fuse.DirEntry{Name: stem + ".car", Mode: syscall.S_IFREG}, nil) ||
					!yield(fuse.DirEntry{Name: stem + ".json", Mode: syscall.S_IFREG}, nil) {
					return
				}
			}
		})
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/egress", err) }), 0, 0
}

// batchStem is a batch's name in /egress: its CID, or "wip".
func batchStem(b retrievaljournal.Batch) string {
	if b.IsWIP() {
		return wipStem
	}
	return b.CID.String()
}

func (d *egressDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	stem, ext, ok := strings.Cut(name, ".")
	if !ok || (ext != "car" && ext != "json") {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	file := "egress." + stem + ".car"
	if stem == wipStem {
		file = retrievaljournal.WIP
	}
	b, err := d.j.Batch(file)
	if err != nil {
		if errno := d.root.toErrno("lookup", "/egress/"+name, err); errno != syscall.ENOENT {
			return nil, errno
		}
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	f := &batchFile{dir: d, batch: b, json: ext == "json"}
	if b.IsWIP() {
		// Piri appends to it: the kernel keeps nothing of it, and each
		// open reads a snapshot of its own.
		out.SetEntryTimeout(0)
		out.SetAttrTimeout(0)
	} else {
		// A finished batch never changes (Piri removes it once paid).
		out.SetEntryTimeout(d.root.cfg.RecordTimeout)
		out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	}
	if errno := f.attr(&out.Attr); errno != 0 {
		return nil, errno
	}
	return d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG}), 0
}

// content is what an open of a batch file reads: the batch's bytes (the
// batch in progress cut after its last whole section), or their
// rendering.
func (d *egressDir) content(b retrievaljournal.Batch, asJSON bool) ([]byte, error) {
	data, err := d.j.Read(b)
	if err != nil || !asJSON {
		return data, err
	}
	return retrievaljournal.RenderJSON(b, data)
}

// wipSizes are the sizes an open of the batch in progress would read
// now, from the last look when the file has not changed since.
func (d *egressDir) wipSizes(b retrievaljournal.Batch) (wipSizes, error) {
	fi, err := os.Stat(d.j.Path(b))
	if err != nil {
		return wipSizes{}, err
	}
	d.wipMu.Lock()
	defer d.wipMu.Unlock()
	if d.wip.size == fi.Size() && d.wip.mtime.Equal(fi.ModTime()) {
		return d.wip, nil
	}
	data, err := d.j.Read(b)
	if err != nil {
		return wipSizes{}, err
	}
	rendered, err := retrievaljournal.RenderJSON(b, data)
	if err != nil {
		return wipSizes{}, err
	}
	d.wip = wipSizes{size: fi.Size(), mtime: fi.ModTime(), car: int64(len(data)), json: int64(len(rendered))}
	return d.wip, nil
}

// batchFile is a batch's bytes or its rendering. A finished batch's
// bytes are read from its file at each READ (batches run to 100 MiB); its
// rendering is made at lookup for its size, and again at each open, for
// the open's life only. The batch in progress is snapshotted at open.
type batchFile struct {
	fs.Inode
	readOnly
	dir   *egressDir
	batch retrievaljournal.Batch
	json  bool
	size  int64 // a finished batch's rendering's
}

var (
	_ fs.NodeGetattrer = (*batchFile)(nil)
	_ fs.NodeOpener    = (*batchFile)(nil)
	_ fs.NodeReader    = (*batchFile)(nil)
)

func (f *batchFile) name() string {
	ext := ".car"
	if f.json {
		ext = ".json"
	}
	return "/egress/" + batchStem(f.batch) + ext
}

func (f *batchFile) attr(a *fuse.Attr) syscall.Errno {
	root := f.dir.root
	size, mtime := f.batch.Size, f.batch.ModTime
	switch {
	case f.batch.IsWIP():
		sizes, err := f.dir.wipSizes(f.batch)
		if err != nil {
			return root.toErrno("getattr", f.name(), err)
		}
		size, mtime = sizes.car, sizes.mtime
		if f.json {
			size = sizes.json
		}
	case f.json:
		if f.size == 0 {
			data, err := f.dir.content(f.batch, true)
			if err != nil {
				return root.toErrno("lookup", f.name(), err)
			}
			f.size = int64(len(data))
		}
		size = f.size
	}
	root.fileAttr(a, size, mtime)
	return 0
}

func (f *batchFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if !f.batch.IsWIP() {
		out.SetTimeout(f.dir.root.cfg.RecordAttrTimeout)
	}
	if h, ok := fh.(*snapshotHandle); ok && f.batch.IsWIP() {
		f.dir.root.fileAttr(&out.Attr, int64(len(h.data)), time.Time{})
		return 0
	}
	return f.attr(&out.Attr)
}

func (f *batchFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	if !f.batch.IsWIP() && !f.json {
		file, err := os.Open(f.dir.j.Path(f.batch))
		if err != nil {
			return nil, 0, f.dir.root.toErrno("open", f.name(), err)
		}
		return &preadFile{f: file}, fuse.FOPEN_KEEP_CACHE, 0
	}
	b := f.batch
	if b.IsWIP() { // as it is now
		var err error
		if b, err = f.dir.j.Batch(b.Name); err != nil {
			return nil, 0, f.dir.root.toErrno("open", f.name(), err)
		}
	}
	data, err := f.dir.content(b, f.json)
	if err != nil {
		return nil, 0, f.dir.root.toErrno("open", f.name(), err)
	}
	if b.IsWIP() {
		// Direct I/O: reads end where this snapshot ends, whatever
		// size the kernel last saw.
		return &snapshotHandle{data: data}, fuse.FOPEN_DIRECT_IO, 0
	}
	return &snapshotHandle{data: data}, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *batchFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	var data []byte
	switch h := fh.(type) {
	case *snapshotHandle:
		data = h.data
	case *preadFile:
		return h.Read(ctx, dest, off)
	}
	if off >= int64(len(data)) {
		return fuse.ReadResultData(nil), 0
	}
	data = data[off:min(int64(len(data)), off+int64(len(dest)))]
	f.dir.root.cfg.Metrics.Served(len(data))
	return readResult{data: data}, 0
}

// snapshotHandle holds what one open reads: a rendering, or a snapshot
// of the batch in progress.
type snapshotHandle struct{ data []byte }
