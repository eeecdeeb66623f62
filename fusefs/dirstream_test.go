package fusefs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// listing yields n entries named e0, e1, …, then err if set.
func listing(n int, err error) func(ctx context.Context) iter.Seq2[dirEntry, error] {
	return func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			for i := range n {
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: fmt.Sprintf("e%d", i)}}, nil) {
					return
				}
			}
			if err != nil {
				yield(dirEntry{}, err)
			}
		}
	}
}

func eio(error) syscall.Errno { return syscall.EIO }

func readAll(t *testing.T, d *dirHandle) (names []string, errno syscall.Errno) {
	t.Helper()
	for {
		e, errno := d.Readdirent(context.Background())
		if errno != 0 || e == nil {
			return names, errno
		}
		names = append(names, e.Name)
	}
}

func TestDirHandleOrderAndErrors(t *testing.T) {
	const n = 3*dirAhead + 7 // the goroutine waits for room several times
	d := newDirHandle(context.Background(), listing(n, nil), eio)
	defer d.Releasedir(context.Background(), 0)
	names, errno := readAll(t, d)
	if errno != 0 || len(names) != n {
		t.Fatalf("read %d entries, errno %v; want %d", len(names), errno, n)
	}
	for i, name := range names {
		if name != fmt.Sprintf("e%d", i) {
			t.Fatalf("entry %d is %s", i, name)
		}
	}

	d = newDirHandle(context.Background(), listing(5, errors.New("backend gone")), eio)
	defer d.Releasedir(context.Background(), 0)
	names, errno = readAll(t, d)
	if len(names) != 5 || errno != syscall.EIO {
		t.Fatalf("read %d entries, errno %v; want 5 then EIO", len(names), errno)
	}
}

func TestDirHandleSeekdir(t *testing.T) {
	d := newDirHandle(context.Background(), listing(1000, nil), eio)
	defer d.Releasedir(context.Background(), 0)
	readAll(t, d)
	if errno := d.Seekdir(context.Background(), 600); errno != 0 {
		t.Fatal(errno)
	}
	names, _ := readAll(t, d)
	if len(names) != 400 || names[0] != "e600" {
		t.Fatalf("after Seekdir(600): %d entries from %v", len(names), names[:1])
	}
}

// A slow backend's first entries reach the kernel at once: nothing waits
// for a batch to fill.
func TestDirHandleDoesNotWaitForABatch(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	d := newDirHandle(context.Background(), func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: "first"}}, nil) {
				return
			}
			<-release
			yield(dirEntry{DirEntry: fuse.DirEntry{Name: "second"}}, nil)
		}
	}, eio)
	defer d.Releasedir(context.Background(), 0)
	got := make(chan string, 1)
	go func() {
		e, _ := d.Readdirent(context.Background())
		got <- e.Name
	}()
	select {
	case name := <-got:
		if name != "first" {
			t.Fatalf("got %s", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first entry waited for the listing to go on")
	}
}

// Releasedir stops a listing still running in the backend.
func TestDirHandleReleaseStopsListing(t *testing.T) {
	stopped := make(chan struct{})
	d := newDirHandle(context.Background(), func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			defer close(stopped)
			for i := 0; ctx.Err() == nil; i++ {
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: fmt.Sprint(i)}}, nil) {
					return
				}
			}
		}
	}, eio)
	if _, errno := d.Readdirent(context.Background()); errno != 0 {
		t.Fatal(errno)
	}
	d.Releasedir(context.Background(), 0)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("listing still running after Releasedir")
	}
}

// Lookup answers READDIRPLUS only for the entry just handed out, and only
// when the listing knows its attributes.
func TestDirHandleLookup(t *testing.T) {
	child := &fs.Inode{}
	d := newDirHandle(context.Background(), func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			e := dirEntry{DirEntry: fuse.DirEntry{Name: "sized"}}
			e.lookup = func(ctx context.Context, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
				out.Size = 42
				return child, 0
			}
			if yield(e, nil) {
				yield(dirEntry{DirEntry: fuse.DirEntry{Name: "bare"}}, nil)
			}
		}
	}, eio)
	defer d.Releasedir(context.Background(), 0)
	var out fuse.EntryOut
	if _, errno := d.Lookup(context.Background(), "sized", &out); errno == 0 {
		t.Fatal("lookup before the entry was handed out")
	}
	d.Readdirent(context.Background())
	if ch, errno := d.Lookup(context.Background(), "sized", &out); errno != 0 || ch != child || out.Size != 42 {
		t.Fatalf("lookup of the listed entry: %v %v size %d", ch, errno, out.Size)
	}
	d.Readdirent(context.Background())
	if _, errno := d.Lookup(context.Background(), "bare", &out); errno == 0 {
		t.Fatal("lookup answered for an entry without attributes")
	}
}

// An open directory lists nothing until it is read.
func TestDirHandleListsOnFirstRead(t *testing.T) {
	started := make(chan struct{}, 1)
	d := newDirHandle(context.Background(), func(ctx context.Context) iter.Seq2[dirEntry, error] {
		started <- struct{}{}
		return listing(3, nil)(ctx)
	}, eio)
	defer d.Releasedir(context.Background(), 0)
	select {
	case <-started:
		t.Fatal("the listing started at open")
	default:
	}
	if names, errno := readAll(t, d); errno != 0 || len(names) != 3 {
		t.Fatalf("read %v, %v", names, errno)
	}
}

// Unmount (the mount's context) ends a listing whose goroutine waits for
// room, and a reader waiting on it gets the end.
func TestDirHandleStopsWithTheMount(t *testing.T) {
	mount, unmount := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	d := newDirHandle(mount, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			defer close(stopped)
			for i := 0; ; i++ {
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: fmt.Sprint(i)}}, nil) {
					return
				}
			}
		}
	}, func(err error) syscall.Errno {
		if errors.Is(err, context.Canceled) {
			return syscall.EINTR
		}
		return syscall.EIO
	})
	if _, errno := d.Readdirent(context.Background()); errno != 0 {
		t.Fatal(errno)
	}
	unmount()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("listing still running after unmount")
	}
	for {
		e, errno := d.Readdirent(context.Background())
		if e == nil {
			if errno != syscall.EINTR {
				t.Fatalf("listing cut by unmount ended with %v, want EINTR (not a silent end)", errno)
			}
			break
		}
	}
}
