package fusefs

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/retrievaljournal"
)

// toErrno is the one place store errors become errnos: missing → ENOENT,
// refused by the backend (credentials, policy) → EACCES, a cancelled
// request → EINTR, everything else (backend down, timeouts, undecodable
// records, digest mismatches) → EIO, logged with what failed. A fault is
// never ENOENT.
func (r *Root) toErrno(op, what string, err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, blobstore.ErrBadName): // objectstore.ErrNotExist too
		return syscall.ENOENT
	case errors.Is(err, readstack.ErrRefused): // logged once per blob by the stack
		return syscall.EIO
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, fs.ErrPermission):
		r.log.Error("the backend refused the request", "op", op, "key", what, "err", err)
		return syscall.EACCES
	case errors.Is(err, genericstore.ErrCorrupt), errors.Is(err, retrievaljournal.ErrCorrupt):
		r.log.Error("undecodable record", "op", op, "key", what, "err", err)
	case errors.Is(err, objectstore.ErrRangeNotSatisfiable):
		return syscall.EINVAL
	default:
		r.log.Error("backend failure", "op", op, "key", what, "err", err)
	}
	return syscall.EIO
}
