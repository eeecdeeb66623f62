package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// linkfs mounts the least a go-fuse filesystem can do to show DIRS
// directories of PER symlinks each, named and aimed as /pdp's subroot
// links are: every inode made before the mount, in memory, 10 s entry
// and attribute timeouts, symlink targets cached by the kernel, and no
// xattrs (EOPNOTSUPP, so ls -l stops asking, as storefs answers). It is
// the floor `ls -l` of /pdp's roots is measured against: what a READLINK
// round trip per link costs, whoever serves it. It serves until SIGTERM.
func linkfs(mnt string, dirs, per int) error {
	sec := 10 * time.Second
	srv, err := fs.Mount(mnt, &linkRoot{dirs: dirs, per: per}, &fs.Options{
		EntryTimeout: &sec, AttrTimeout: &sec,
		MountOptions: fuse.MountOptions{Name: "linkfs", EnableSymlinkCaching: true, DirectMountStrict: os.Geteuid() == 0},
	})
	if err != nil {
		return fmt.Errorf("linkfs: %w", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		srv.Unmount()
	}()
	srv.Wait()
	return nil
}

type linkRoot struct {
	fs.Inode
	dirs, per int
}

func (r *linkRoot) OnAdd(ctx context.Context) {
	for d := range r.dirs {
		dir := r.NewPersistentInode(ctx, &fs.Inode{}, fs.StableAttr{Mode: syscall.S_IFDIR})
		r.AddChild(fmt.Sprint(d), dir, false)
		for i := range r.per {
			n := d*r.per + i
			name := fmt.Sprintf("%d-bafkzcibd6adq%051d", i*2048, n)
			target := fmt.Sprintf("../../../../../blobs/ciq%052d", n)
			l := &plainLink{MemSymlink: fs.MemSymlink{Data: []byte(target)}}
			dir.AddChild(name, r.NewPersistentInode(ctx, l, fs.StableAttr{Mode: syscall.S_IFLNK}), false)
		}
	}
}

type plainLink struct{ fs.MemSymlink }

func (l *plainLink) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}
