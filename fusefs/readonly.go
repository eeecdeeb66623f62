package fusefs

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readOnly gives every file node the answers of a file that is never
// written: EROFS to any change, and ENOSYS to FLUSH, after which the
// kernel stops sending FLUSH on every close (one round trip less per
// file).
type readOnly struct{}

var (
	_ fs.NodeSetattrer = readOnly{}
	_ fs.NodeFlusher   = readOnly{}
)

func (readOnly) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (readOnly) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return syscall.ENOSYS }

// openReadOnly refuses an open that would write.
func openReadOnly(flags uint32) syscall.Errno {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return syscall.EROFS
	}
	return 0
}

// noXattrs answers getxattr for nodes that have none: EOPNOTSUPP for the
// security. and system. namespaces (no such namespace, so ls -l stops
// asking for SELinux labels and ACLs on every entry: a round trip each),
// ENODATA for the rest.
type noXattrs struct{}

var _ fs.NodeGetxattrer = noXattrs{}

func (noXattrs) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, xattrAbsent(attr)
}

func xattrAbsent(attr string) syscall.Errno {
	if strings.HasPrefix(attr, "security.") || strings.HasPrefix(attr, "system.") {
		return syscall.EOPNOTSUPP
	}
	return syscall.ENODATA
}

// xattrReply answers getxattr and listxattr with val: its size alone
// (ERANGE) when dest is too small for it.
func xattrReply(dest []byte, val string) (uint32, syscall.Errno) {
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}
