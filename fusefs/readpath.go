package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/store/blobstore"
)

// readPath is one way an open blob's bytes reach its reader.
type readPath int

const (
	// viaPrefetch: the daemon reads the store through the mount's
	// prefetch pool (remote stores, memory, and anything under --verify).
	viaPrefetch readPath = iota
	// viaPread: the daemon preads the blob's local file.
	viaPread
	// viaPassthrough: the kernel reads the local file itself; the daemon
	// only opens it.
	viaPassthrough
)

// String is the path's name in logs and in storefs_read_mode.
func (p readPath) String() string {
	switch p {
	case viaPread:
		return "pread"
	case viaPassthrough:
		return "passthrough"
	}
	return "daemon"
}

// readPaths are the read paths a mount has, decided once before it serves
// anything, from what the store offers and the config. Each open then
// takes one of them. They never change while the mount serves: the
// kernel refuses a passthrough open of a file that is open in cached
// mode, so opens that took different paths fail each other (EIO).
type readPaths struct {
	// files opens local blob files; nil when the store has none, or when
	// --verify needs every byte to pass the daemon's hash.
	files blobstore.Files
	// passthrough offers the kernel the file itself; go-fuse serves it
	// with pread where the kernel did not grant passthrough.
	passthrough bool
}

func newReadPaths(files blobstore.Files, cfg Config) readPaths {
	if files == nil || cfg.Verify {
		return readPaths{}
	}
	return readPaths{files: files, passthrough: !cfg.NoPassthrough}
}

// mode names the path opens take as the kernel serves them: passthrough
// only where the kernel granted it.
func (p readPaths) mode(kernelFlags uint64) string {
	if path := p.open(); path != viaPassthrough || kernelFlags&fuse.CAP_PASSTHROUGH != 0 {
		return path.String()
	}
	return viaPread.String()
}

// open is the path an open takes.
func (p readPaths) open() readPath {
	switch {
	case p.files == nil:
		return viaPrefetch
	case p.passthrough:
		return viaPassthrough
	}
	return viaPread
}
