package fusefs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"syscall"
	"testing"
	"time"

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

// blobsListing answers READDIR at the kernel's offsets: in order across
// answers that fill up, again from within the last answer (an
// interrupted READDIR the kernel repeats), and from anywhere (seekdir).
func TestBlobsListingOffsets(t *testing.T) {
	const n = 50
	l := &blobsListing{h: newDirHandle(context.Background(), listing(n, nil), eio)}
	defer l.h.stop()
	read := func(off uint64) []string {
		out := fuse.NewDirEntryList(make([]byte, 200), off) // a few entries each
		if errno := l.read(context.Background(), off, out, false); errno != 0 {
			t.Fatal(errno)
		}
		return parseDirents(t, out.Bytes(), off)
	}
	var all []string
	repeated := false
	for off := uint64(0); ; {
		got := read(off)
		if len(got) == 0 {
			break
		}
		if off > 0 && !repeated && len(got) > 2 {
			// The kernel took one entry of the answer and asks again
			// from there: answered from the last answer, then on.
			repeated = true
			feed := l.h.feed
			again := read(off + 1)
			if again[0] != got[1] || l.h.feed != feed {
				t.Fatalf("repeated read at %d: %v, first time %v", off+1, again, got)
			}
			all = append(all, got[0])
			off++
			got = again
		}
		all = append(all, got...)
		off += uint64(len(got))
	}
	if !repeated || len(all) != n {
		t.Fatalf("listed %d entries, want %d: %v", len(all), n, all)
	}
	for i, name := range all {
		if name != fmt.Sprintf("e%d", i) {
			t.Fatalf("entry %d is %s", i, name)
		}
	}
	if got := read(3); got[0] != all[3] {
		t.Fatalf("seek to 3 gave %v", got)
	}
}

// parseDirents reads a READDIR answer, checking each entry's offset.
func parseDirents(t *testing.T, buf []byte, off uint64) []string {
	var names []string
	for len(buf) > 0 {
		next := binary.LittleEndian.Uint64(buf[8:])
		namelen := int(binary.LittleEndian.Uint32(buf[16:]))
		if next != off+1 {
			t.Fatalf("entry after offset %d has offset %d", off, next)
		}
		off = next
		names = append(names, string(buf[24:24+namelen]))
		buf = buf[(24+namelen+7)&^7:]
	}
	return names
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
