package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore/memory"
)

// void marks a request the kernel expects no answer to.
const void fuse.Status = -1

// blobAnswers is what blobsFS answers each request about a blob inode,
// by RawFileSystem method. Every method of the interface is here or in
// noNode: a go-fuse upgrade that adds one fails the guard until it is
// answered.
var blobAnswers = map[string]fuse.Status{
	"Lookup":        fuse.ENOTDIR,
	"Forget":        void,
	"GetAttr":       fuse.OK,
	"SetAttr":       fuse.Status(syscall.EROFS),
	"Mknod":         fuse.Status(syscall.EROFS),
	"Mkdir":         fuse.Status(syscall.EROFS),
	"Unlink":        fuse.Status(syscall.EROFS),
	"Rmdir":         fuse.Status(syscall.EROFS),
	"Rename":        fuse.Status(syscall.EROFS),
	"Link":          fuse.Status(syscall.EROFS),
	"Symlink":       fuse.Status(syscall.EROFS),
	"Readlink":      fuse.EINVAL,
	"Access":        fuse.OK,
	"GetXAttr":      fuse.ENODATA, // of an attribute it has not
	"ListXAttr":     fuse.OK,
	"SetXAttr":      fuse.Status(syscall.EROFS),
	"RemoveXAttr":   fuse.Status(syscall.EROFS),
	"Create":        fuse.Status(syscall.EROFS),
	"Tmpfile":       fuse.Status(syscall.EROFS),
	"Open":          fuse.OK,
	"Read":          fuse.EBADF, // of a handle it never gave
	"Lseek":         fuse.ENOSYS,
	"GetLk":         fuse.ENOSYS,
	"SetLk":         fuse.ENOSYS,
	"SetLkw":        fuse.ENOSYS,
	"Release":       void,
	"Write":         fuse.Status(syscall.EROFS),
	"Writev":        fuse.Status(syscall.EROFS),
	"CopyFileRange": fuse.ENOSYS,
	"Ioctl":         fuse.Status(syscall.ENOTTY),
	"Flush":         fuse.ENOSYS,
	"Fsync":         fuse.ENOTSUP,
	"Fallocate":     fuse.Status(syscall.EROFS),
	"OpenDir":       fuse.ENOTDIR,
	"ReadDir":       fuse.ENOTDIR,
	"ReadDirPlus":   fuse.ENOTDIR,
	"ReleaseDir":    void,
	"FsyncDir":      fuse.ENOTDIR,
	"StatFs":        fuse.OK,
	"Statx":         fuse.ENOSYS,
}

// noNode are the methods about no inode, which go to go-fuse's bridge.
var noNode = map[string]string{
	"String":    "names the filesystem",
	"SetDebug":  "a switch of the server",
	"Init":      "the first request, before any inode",
	"OnUnmount": "after the last request",
}

// bridgeTrap stands for go-fuse's bridge: its nil interface panics on any
// call, which is how the guard sees a request for a blob id reach it.
type bridgeTrap struct{ fuse.RawFileSystem }

// TestBlobIDsNeverReachTheBridge: every FUSE request about a blob inode is
// answered by blobsFS, as blobAnswers states, and none reaches go-fuse's
// bridge, which knows neither blob ids nor their handles.
func TestBlobIDsNeverReachTheBridge(t *testing.T) {
	data := []byte("a blob the guard opens")
	digest, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	blobs := blobstore.New(memory.New(), blobstore.FlatFS{})
	if err := blobs.Put(context.Background(), digest, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	r, err := New(Stores{Blobs: blobs}, Config{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := &blobsFS{RawFileSystem: bridgeTrap{}, r: r, files: map[uint64]*openBlob{}, dirs: map[uint64]*blobsListing{}}

	typ := reflect.TypeFor[fuse.RawFileSystem]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		want, answered := blobAnswers[m.Name]
		if _, ok := noNode[m.Name]; ok {
			if answered {
				t.Errorf("%s is both answered and about no inode", m.Name)
			}
			continue
		}
		if !answered {
			t.Errorf("%s: no stated answer for blob ids (a new go-fuse method?): add it to blobsFS and blobAnswers", m.Name)
			continue
		}
		// A fresh node each time: Forget must not take another's.
		id, _, _ := r.nodes.Acquire(digest, int64(len(data)), time.Time{})
		got, err := call(reflect.ValueOf(b).MethodByName(m.Name), id)
		switch {
		case err != nil:
			t.Errorf("%s of a blob id: %v", m.Name, err)
		case got != want:
			t.Errorf("%s of a blob id: %v, want %v", m.Name, got, want)
		}
	}
	for name := range blobAnswers {
		if _, ok := typ.MethodByName(name); !ok {
			t.Errorf("blobAnswers names %s, which go-fuse's RawFileSystem has not", name)
		}
	}
}

// call calls a RawFileSystem method with every node id it takes set to
// id, and returns its status (void when it has none). A panic, which is
// what the trap does, is an error.
func call(m reflect.Value, id uint64) (st fuse.Status, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked (reached go-fuse's bridge?): %v", p)
		}
	}()
	mt := m.Type()
	args := make([]reflect.Value, mt.NumIn())
	for i := range args {
		args[i] = arg(mt.In(i), id)
	}
	st = void
	for _, out := range m.Call(args) {
		if s, ok := out.Interface().(fuse.Status); ok {
			st = s
		}
	}
	return st, nil
}

var nodeFields = []string{"NodeId", "NodeIdOut", "Newdir", "Oldnodeid"}

func arg(t reflect.Type, id uint64) reflect.Value {
	switch {
	case t.Kind() == reflect.Uint64:
		return reflect.ValueOf(id).Convert(t)
	case t.Kind() == reflect.String:
		return reflect.ValueOf("x").Convert(t)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return reflect.MakeSlice(t, 4096, 4096)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		v := reflect.New(t.Elem())
		for _, name := range nodeFields {
			if f := v.Elem().FieldByName(name); f.IsValid() && f.Kind() == reflect.Uint64 {
				f.SetUint(id)
			}
		}
		return v
	}
	return reflect.Zero(t) // the cancel channel, the server
}
