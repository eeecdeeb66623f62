package fusefs

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/store/blobstore"
)

// MountOptions are the kernel-facing choices of a mount.
type MountOptions struct {
	FsName             string // shown as the source in /proc/mounts
	AllowOther         bool
	DefaultPermissions bool
	Debug              bool // trace every FUSE request
	ReadAheadKB        int  // kernel readahead for the mount; 0 leaves the default
}

// maxRead is the largest read the kernel sends (max_read; the kernel
// allows 1 MiB here).
const maxRead = 1 << 20

// Mount mounts root on dir, read-only. As root it calls mount(2) itself
// (no fusermount needed); otherwise it uses fusermount3.
func Mount(dir string, root *Root, o MountOptions) (*fuse.Server, error) {
	opts := []string{"ro"}
	if o.DefaultPermissions {
		opts = append(opts, "default_permissions")
	}
	entry, attr, negative := root.cfg.RecordTimeout, root.cfg.RecordTimeout, root.cfg.NegativeTimeout
	// READDIRPLUS costs entry size (fewer names per READDIR) and pays off
	// only where a listing carries attributes: S3 listings carry blob
	// sizes, so every READDIR is a READDIRPLUS and `ls -l` needs no LOOKUP
	// per entry (each round trip costs ~0.1 ms here). Local files list
	// names only: READDIRPLUS only while the kernel finds it worth it, so
	// a million-entry /blobs stays a cheap listing.
	var caps uint64
	if _, namesOnly := root.stores.Blobs.(blobstore.NameLister); namesOnly {
		caps = fuse.CAP_READDIRPLUS_AUTO
	}
	server, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			Name:              "storefs",
			FsName:            o.FsName,
			AllowOther:        o.AllowOther,
			Options:           opts,
			MaxWrite:          maxRead,
			Debug:             o.Debug,
			DirectMountStrict: os.Geteuid() == 0,
			DirectMountFlags:  syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_RDONLY,
			ExtraCapabilities: caps,
			PanicHandler: func(p any) fuse.Status {
				root.log.Error("panic in a FUSE handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				return fuse.EIO
			},
			Logger: log.New(slogWriter{root.log}, "", 0),
		},
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &negative,
		UID:             root.cfg.UID,
		GID:             root.cfg.GID,
		Logger:          log.New(slogWriter{root.log}, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	mode := "daemon"
	if _, files := root.stores.Blobs.(blobstore.FileOpener); files && !root.cfg.Verify {
		mode = "pread"
		if !root.cfg.NoPassthrough && server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0 {
			mode = "passthrough"
		}
	}
	root.cfg.Metrics.ReadMode(mode)
	root.log.Info("blob read path", "mode", mode)
	if o.ReadAheadKB > 0 {
		if err := setReadAhead(dir, o.ReadAheadKB); err != nil {
			root.log.Warn("could not raise the mount's readahead; reads arrive in 128 KiB requests", "err", err)
		}
	}
	return server, nil
}

// setReadAhead raises the kernel readahead of the mount's bdi: without it
// buffered reads arrive as 128 KiB requests, whatever max_read allows.
func setReadAhead(dir string, kb int) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return err
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(path, []byte(fmt.Sprint(kb)), 0o644)
}

// slogWriter sends go-fuse's log lines (its --debug trace) to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(trimNL(p)), "component", "go-fuse")
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	return p
}
