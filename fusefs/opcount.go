package fusefs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/internal/helpers/metrics"
)

// countedFS times the FUSE operations storefs answers, for every node
// alike: no handler counts itself, so none can forget to.
type countedFS struct {
	fuse.RawFileSystem
	m *metrics.Metrics
}

func (c countedFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer c.m.FuseOp("lookup", time.Now())
	return c.RawFileSystem.Lookup(cancel, h, name, out)
}

func (c countedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer c.m.FuseOp("getattr", time.Now())
	return c.RawFileSystem.GetAttr(cancel, in, out)
}

func (c countedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer c.m.FuseOp("open", time.Now())
	return c.RawFileSystem.Open(cancel, in, out)
}

func (c countedFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer c.m.FuseOp("read", time.Now())
	return c.RawFileSystem.Read(cancel, in, buf)
}

func (c countedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer c.m.FuseOp("opendir", time.Now())
	return c.RawFileSystem.OpenDir(cancel, in, out)
}

func (c countedFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer c.m.FuseOp("readdir", time.Now())
	return c.RawFileSystem.ReadDir(cancel, in, out)
}

func (c countedFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer c.m.FuseOp("readdir", time.Now())
	return c.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (c countedFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	defer c.m.FuseOp("getxattr", time.Now())
	return c.RawFileSystem.GetXAttr(cancel, h, attr, dest)
}

func (c countedFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	defer c.m.FuseOp("listxattr", time.Now())
	return c.RawFileSystem.ListXAttr(cancel, h, dest)
}

func (c countedFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	defer c.m.FuseOp("readlink", time.Now())
	return c.RawFileSystem.Readlink(cancel, h)
}
