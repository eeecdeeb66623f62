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
	"github.com/storacha/storefs/internal/helpers/mountinfo"
)

// maxRead is the largest read the kernel sends (max_read): 1 MiB, the
// most kernels with max_pages 256 accept.
const maxRead = 1 << 20

// maxBackground is how many asynchronous requests (the kernel's READs
// that fill the page cache) may be in flight to the daemon at once:
// go-fuse's default of 12 would queue the 13th of many random readers of
// one blob behind the others. Each costs a goroutine and a request
// buffer while it waits for the backend.
const maxBackground = 64

// Mount mounts root on dir, read-only. As root it calls mount(2) itself
// (no fusermount needed); otherwise it uses fusermount3.
func Mount(dir string, root *Root) (*fuse.Server, error) {
	o := root.cfg
	real, err := mountinfo.Resolve(dir)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	opts := []string{"ro"}
	if o.DefaultPermissions {
		opts = append(opts, "default_permissions")
	}
	// Every node sets its own entry and attribute timeouts: go-fuse puts
	// a mount-wide default in place of a zero, and the batch in progress
	// (/egress/wip.*) needs a real zero.
	negative := root.cfg.NegativeTimeout
	// Every READDIR of /blobs is a READDIRPLUS: blobsListing decides
	// which answers carry nodes (the kernel's READDIRPLUS_AUTO would ask
	// for them too rarely in a walk). Elsewhere names come alone.
	server, err := serve(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			Name:          "storefs",
			FsName:        o.FsName,
			AllowOther:    o.AllowOther,
			Options:       opts,
			MaxWrite:      maxRead,
			MaxBackground: maxBackground,
			// Every symlink's target is fixed by its name (a blob's
			// b32, a piece's blob): the kernel may keep them.
			EnableSymlinkCaching: true,
			Debug:                o.Debug,
			DirectMountStrict:    os.Geteuid() == 0,
			DirectMountFlags:     syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_RDONLY,
			PanicHandler: func(p any) fuse.Status {
				root.log.Error("panic in a FUSE handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				return fuse.EIO
			},
			Logger: log.New(slogWriter{root.log}, "", 0),
		},
		NegativeTimeout: &negative,
		UID:             root.cfg.UID,
		GID:             root.cfg.GID,
		Logger:          log.New(slogWriter{root.log}, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	root.kernelFlags.Store(server.KernelSettings().Flags64())
	mode := root.ReadMode()
	root.cfg.Metrics.ReadMode(mode)
	root.log.Info("blob read path", "mode", mode)
	if o.ReadAheadKB > 0 {
		if err := setReadAhead(real, o.ReadAheadKB); err != nil {
			root.log.Warn("could not raise the mount's readahead; reads arrive in 128 KiB requests", "err", err)
		}
	}
	return server, nil
}

// serve is fs.Mount with every FUSE operation counted in one place.
func serve(dir string, root *Root, opts *fs.Options) (*fuse.Server, error) {
	var raw fuse.RawFileSystem = newBlobsFS(fs.NewNodeFS(root, opts), root)
	if root.cfg.Metrics != nil {
		raw = countedFS{raw, root.cfg.Metrics}
	}
	server, err := fuse.NewServer(raw, dir, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, err // as fs.Mount: the serve loop ends with the failed mount
	}
	return server, nil
}

// ReadMode names the read path opens of blobs take: passthrough, pread
// or daemon.
func (r *Root) ReadMode() string { return r.paths.mode(r.kernelFlags.Load()) }

// setReadAhead raises the kernel readahead of the mount's bdi: without it
// buffered reads arrive as 128 KiB requests, whatever max_read allows.
// The bdi is named by the mount's device, read from the mount table: a
// stat of the mountpoint would be a request to ourselves that, in
// flight, makes a user's umount fail with EBUSY.
func setReadAhead(dir string, kb int) error {
	m, ok, err := mountinfo.At(dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not in the mount table", dir)
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", m.Major, m.Minor)
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
