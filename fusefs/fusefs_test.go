package fusefs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/records"
)

// counting records every Get the filesystem sends and the bytes it reads.
type counting struct {
	blobstore.Store
	mu    sync.Mutex
	gets  []objectstore.Range
	read  int64
	stats int
	lists int
}

func (c *counting) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	cfg := objectstore.NewGetConfig(opts...)
	c.mu.Lock()
	r := objectstore.From(0)
	if cfg.Range != nil {
		r = *cfg.Range
	}
	c.gets = append(c.gets, r)
	c.mu.Unlock()
	obj, err := c.Store.Get(ctx, d, opts...)
	if err != nil {
		return nil, err
	}
	return &countingObj{obj, c}, nil
}

func (c *counting) Stat(ctx context.Context, d mh.Multihash) (blobstore.Info, error) {
	c.mu.Lock()
	c.stats++
	c.mu.Unlock()
	return c.Store.Stat(ctx, d)
}

func (c *counting) List(ctx context.Context) iter.Seq2[blobstore.Info, error] {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.List(ctx)
}

func (c *counting) reset() (gets []objectstore.Range, read int64, stats int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets, read, stats = c.gets, c.read, c.stats
	c.gets, c.read, c.stats, c.lists = nil, 0, 0, 0
	return
}

type countingObj struct {
	objectstore.Object
	c *counting
}

func (o *countingObj) Read(p []byte) (int, error) {
	n, err := o.Object.Read(p)
	o.c.mu.Lock()
	o.c.read += int64(n)
	o.c.mu.Unlock()
	return n, err
}

// mount writes the sample into st and mounts it with cfg. The store is
// wrapped only to count requests: the wrapper passes its local files on,
// so a data dir is read the way a real mount reads it.
func mount(t *testing.T, st *node.Stores, cfg fusefs.Config) (string, *counting, *sample.Set, *fusefs.Root) {
	fusetest.Require(t)
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	blobs := &counting{Store: st.Blobs}
	cfg.Log = testLog(t)
	root := newRoot(t, fusefs.Stores{Blobs: blobs, Stores: st.Stores}, cfg)
	return mountRoot(t, root), blobs, set, root
}

// newRoot builds a tree or fails the test.
func newRoot(t *testing.T, stores fusefs.Stores, cfg fusefs.Config) *fusefs.Root {
	t.Helper()
	root, err := fusefs.New(stores, withDefaults(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// withDefaults gives a test's config the timeouts storefs mount gives
// a mount that sets none (mountopts.Defaults).
func withDefaults(cfg fusefs.Config) fusefs.Config {
	d := mountopts.Defaults().Mount
	for _, p := range []struct {
		got *time.Duration
		def time.Duration
	}{
		{&cfg.RecordTimeout, d.RecordTimeout}, {&cfg.RecordAttrTimeout, d.RecordAttrTimeout}, {&cfg.NegativeTimeout, d.NegativeTimeout}} {
		if *p.got == 0 {
			*p.got = p.def
		}
	}
	return cfg
}

// mountRoot mounts root on a temporary directory until the test ends.
func mountRoot(t *testing.T, root *fusefs.Root) string {
	t.Helper()
	dir, _ := mountFresh(t, root)
	return dir
}

// mountFresh mounts root on a temporary directory; unmount ends it, as
// the test's end does should the test stop first.
func mountFresh(t *testing.T, root *fusefs.Root) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	server, err := fusefs.Mount(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unmount := func() {
		once.Do(func() {
			if err := server.Unmount(); err != nil {
				t.Errorf("unmount: %v", err)
				syscall.Unmount(dir, syscall.MNT_DETACH)
			}
			root.Close()
		})
	}
	t.Cleanup(unmount)
	return dir, unmount
}

func backends(t *testing.T) map[string]func(t *testing.T) *node.Stores {
	return map[string]func(t *testing.T) *node.Stores{
		"memory": func(t *testing.T) *node.Stores {
			st, err := node.Open(context.Background(), node.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"datadir": func(t *testing.T) *node.Stores {
			st, err := node.Open(context.Background(), node.Config{DataDir: t.TempDir(), Writable: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"s3": func(t *testing.T) *node.Stores {
			srv := s3test.Start(t)
			st, err := node.Open(context.Background(), node.Config{Writable: true, Timeout: 5 * time.Second,
				S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "fs-", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// testStart is before any mount of the tests began.
var testStart = time.Now()

// TestMountedTree mounts every backend, and a data dir on each of its
// read paths, and checks the whole tree.
func TestMountedTree(t *testing.T) {
	fusetest.Require(t)
	backends := backends(t)
	for _, c := range []struct {
		name, backend, mode string
		cfg                 fusefs.Config
	}{
		{"memory", "memory", "daemon", fusefs.Config{}},
		{"s3", "s3", "daemon", fusefs.Config{}},
		{"datadir", "datadir", "passthrough", fusefs.Config{}},
		{"datadir-pread", "datadir", "pread", fusefs.Config{NoPassthrough: true}},
		{"datadir-verify", "datadir", "daemon", fusefs.Config{Verify: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, blobs, set, root := mount(t, backends[c.backend](t), c.cfg)
			if got := root.ReadMode(); got != c.mode {
				t.Fatalf("read mode %s, want %s", got, c.mode)
			}
			checkBlobs(t, dir, blobs, set, c.backend == "datadir", c.mode != "daemon")
			checkRecords(t, dir, set)
			checkReadOnly(t, dir)
		})
	}
}

// checkBlobs reads every blob. files: the store's blobs are local files,
// listed by name, so each lookup stats its file. local: the mount reads
// them itself, so reads send the store no request.
func checkBlobs(t *testing.T, dir string, blobs *counting, set *sample.Set, files, local bool) {
	entries, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for d := range set.Blobs {
		want = append(want, blobstore.Name(mh.Multihash(d)))
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("ls /blobs: %v, want %v", names, want)
	}
	// ls -l: sizes come from the listing, with no backend request per entry
	blobs.reset()
	for _, e := range entries {
		info, err := os.Lstat(filepath.Join(dir, "blobs", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := blobstore.ParseName(e.Name())
		if info.Size() != int64(len(set.Blobs[string(d)])) || info.Mode() != 0o444 || info.Sys().(*syscall.Stat_t).Nlink != 1 {
			t.Errorf("stat %s: size %d mode %v", e.Name(), info.Size(), info.Mode())
		}
		// The time is the backend's (to the second: HTTP dates), not 1970.
		stored, err := blobs.Store.Stat(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		if stored.ModTime.IsZero() || !info.ModTime().Truncate(time.Second).Equal(stored.ModTime.Truncate(time.Second)) {
			t.Errorf("mtime of %s: %v, the backend stored it at %v", e.Name(), info.ModTime(), stored.ModTime)
		}
	}
	if _, _, stats := blobs.reset(); stats != 0 && !files {
		t.Errorf("stat of listed blobs sent %d backend requests", stats)
	}

	// A 4 KiB read at an offset fetches about 4 KiB, not the blob.
	var big []byte
	var bigName string
	for d, data := range set.Blobs {
		if len(data) > len(big) {
			big, bigName = data, blobstore.Name(mh.Multihash(d))
		}
	}
	f, err := os.Open(filepath.Join(dir, "blobs", bigName))
	if err != nil {
		t.Fatal(err)
	}
	blobs.reset()
	buf := make([]byte, 4096)
	off := int64(len(big) / 2 / 4096 * 4096)
	if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, big[off:off+4096]) {
		t.Fatalf("pread at %d: %v", off, err)
	}
	gets, read, _ := blobs.reset()
	t.Logf("4 KiB pread at %d: %d Gets %v, %d bytes fetched", off, len(gets), gets, read)
	switch {
	case local && len(gets) != 0:
		t.Errorf("4 KiB pread of a local file at %d went to the store: %d Gets", off, len(gets))
	case !local && (len(gets) == 0 || read > 16<<10 || read < 4096):
		t.Errorf("4 KiB pread at %d fetched %d bytes in %d Gets", off, read, len(gets))
	}
	f.Close()

	for digest, data := range set.Blobs {
		d := mh.Multihash(digest)
		path := filepath.Join(dir, "blobs", blobstore.Name(d))
		got, err := os.ReadFile(path)
		if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("cat %s: %d bytes, %v", blobstore.Name(d), len(got), err)
		}
		for _, alias := range []string{cid.NewCidV1(cid.Raw, d).String(), "z" + blobstore.Base58(d), strings.ToUpper(blobstore.Name(d))} {
			got, err := os.ReadFile(filepath.Join(dir, "blobs", alias))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("alias %s: %v", alias, err)
			}
		}
		for attr, want := range map[string]string{
			"user.storefs.cid":       cid.NewCidV1(cid.Raw, d).String(),
			"user.storefs.multihash": "z" + blobstore.Base58(d),
		} {
			buf := make([]byte, 256)
			n, err := unix.Getxattr(path, attr, buf)
			if err != nil || string(buf[:n]) != want {
				t.Errorf("getxattr %s: %q, %v", attr, buf[:max(n, 0)], err)
			}
		}
		stored, err := blobs.Store.Stat(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		for attr, want := range map[string]string{"user.storefs.key": stored.Key, "user.storefs.layout": stored.Layout} {
			buf := make([]byte, 256)
			if n, err := unix.Getxattr(path, attr, buf); err != nil || string(buf[:n]) != want || want == "" {
				t.Errorf("getxattr %s: %q, %v; want %q", attr, buf[:max(n, 0)], err, want)
			}
		}
	}

}

func checkRecords(t *testing.T, dir string, set *sample.Set) {
	for _, a := range set.Allocations {
		path := filepath.Join(dir, "allocations", a.ID()+".json")
		got, err := os.ReadFile(path)
		want, _ := a.JSON()
		if err != nil || !bytes.Equal(got, want) || !json.Valid(got) {
			t.Errorf("%s: %v\n%s", path, err, got)
		}
		info, _ := os.Stat(path)
		if info == nil || info.Size() != int64(len(want)) {
			t.Errorf("%s: stat size is not the content size", path)
		}
		// An allocation has no time of its own: when the backend stored
		// it (S3), else the mount's start; both during this test.
		if info != nil && (info.ModTime().Before(testStart.Truncate(time.Second)) || info.ModTime().After(time.Now())) {
			t.Errorf("%s: mtime %v, not from this test (after %v)", path, info.ModTime(), testStart)
		}
		if _, err := os.ReadFile(filepath.Join(dir, "allocations", a.ID()+".cbor")); err != nil {
			t.Errorf("allocation cbor: %v", err)
		}
	}
	// An acceptance's time is its own, executedAt, in both of its files.
	for _, a := range set.Acceptances {
		for _, ext := range []string{".json", ".cbor"} {
			path := filepath.Join(dir, "acceptances", a.ID()+ext)
			info, err := os.Stat(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
			} else if !info.ModTime().Equal(time.Unix(a.ExecutedAt, 0)) {
				t.Errorf("%s: mtime %v, want executedAt %v", path, info.ModTime(), time.Unix(a.ExecutedAt, 0))
			}
		}
	}
	for _, r := range set.Receipts {
		got, err := os.ReadFile(filepath.Join(dir, "receipts", r.CID.String()+".json"))
		want, _ := r.JSON()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("receipt %s: %v", r.CID, err)
		}
		link := filepath.Join(dir, "receipts", "by-ran", r.Ran.String())
		target, err := os.Readlink(link)
		if err != nil || target != "../"+r.CID.String()+".json" {
			t.Errorf("readlink %s: %q %v", link, target, err)
		}
		if via, err := os.ReadFile(link); err != nil || !bytes.Equal(via, want) {
			t.Errorf("cat through by-ran link: %v", err)
		}
	}
	for _, d := range set.Delegations {
		got, err := os.ReadFile(filepath.Join(dir, "delegations", d.CID.String()+".json"))
		want, _ := d.JSON()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("delegation %s: %v", d.CID, err)
		}
	}
	for _, c := range set.Consolidations {
		got, err := os.ReadFile(filepath.Join(dir, "consolidations", c.Batch.String()+".json"))
		want, _ := c.JSON()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("consolidation %s: %v", c.Batch, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "receipts"))
	if err != nil || len(entries) != 1+2*len(set.Receipts) || (entries[0].Name() != "by-ran" && !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "by-ran" })) {
		t.Errorf("ls /receipts: %d entries, %v", len(entries), err)
	}
	ran, err := os.ReadDir(filepath.Join(dir, "receipts", "by-ran"))
	if err != nil || len(ran) != len(set.Receipts) {
		t.Errorf("ls by-ran: %d, %v", len(ran), err)
	}
	for _, missing := range []string{"blobs/nope", "blobs/../../etc/passwd", "blobs/" + strings.Repeat("a", 255), "receipts/bafyreia63ftenj6q7jocoojl7nfbtuzqzru6sf7jvspencuwt6an7pus6u.json", "allocations/x", "keystore", "wallet"} {
		if _, err := os.Stat(filepath.Join(dir, missing)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s: %v, want ENOENT", missing, err)
		}
	}
}

func checkReadOnly(t *testing.T, dir string) {
	blobsDir := filepath.Join(dir, "blobs")
	entries, _ := os.ReadDir(blobsDir)
	existing := filepath.Join(blobsDir, entries[0].Name())
	for what, err := range map[string]error{
		"create": os.WriteFile(filepath.Join(blobsDir, "new"), []byte("x"), 0o644),
		"write": func() error {
			f, err := os.OpenFile(existing, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
			}
			return err
		}(),
		"mkdir":    os.Mkdir(filepath.Join(dir, "d"), 0o755),
		"remove":   os.Remove(existing),
		"rename":   os.Rename(existing, existing+"x"),
		"chmod":    os.Chmod(existing, 0o777),
		"truncate": os.Truncate(existing, 0),
		"setxattr": unix.Setxattr(existing, "user.x", []byte("1"), 0),
		"symlink":  os.Symlink("x", filepath.Join(dir, "l")),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
}

// failing fails every blob request with err, or panics.
type failing struct {
	blobstore.Store
	panics bool
	err    error
}

var errBackend = errors.New("backend unreachable (injected)")

func (f failing) Stat(ctx context.Context, d mh.Multihash) (blobstore.Info, error) {
	if f.panics {
		panic("injected panic")
	}
	return blobstore.Info{}, f.err
}

func (f failing) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	return nil, f.err
}

func TestErrors(t *testing.T) {
	fusetest.Require(t)
	st, err := node.Open(context.Background(), node.Config{})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := sample.New()
	set.Write(context.Background(), st)
	bad := set.Receipts[0].CID.String()
	st.Receipts.PutRaw(context.Background(), bad, []byte("corrupt"))

	for _, c := range []struct {
		panics bool
		err    error
		want   syscall.Errno
	}{
		{false, errBackend, syscall.EIO},
		{true, errBackend, syscall.EIO},
		{false, fmt.Errorf("s3 get: %w", objectstore.ErrAccessDenied), syscall.EACCES},
	} {
		panics := c.panics
		root := newRoot(t, fusefs.Stores{Blobs: failing{st.Blobs, panics, c.err}, Stores: records.Stores{Receipts: st.Receipts}}, fusefs.Config{Log: testLog(t)})
		dir := t.TempDir()
		server, err := fusefs.Mount(dir, root)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")
		if _, err := os.Stat(name); !errors.Is(err, c.want) {
			t.Errorf("stat with a failing backend (%v, panic %v): %v, want %v", c.err, panics, err, c.want)
		}
		if _, err := os.ReadFile(filepath.Join(dir, "receipts", bad+".json")); !errors.Is(err, syscall.EIO) {
			t.Errorf("corrupt receipt: %v, want EIO", err)
		}
		good := set.Receipts[1].CID.String()
		if _, err := os.ReadFile(filepath.Join(dir, "receipts", good+".json")); err != nil {
			t.Errorf("a good receipt next to a corrupt one: %v", err)
		}
		server.Unmount()
		root.Close()
	}
}

// TestVerify: a --verify read of a blob whose bytes were altered in the
// backend ends in EIO; an intact one reads fine.
func TestVerify(t *testing.T) {
	fusetest.Require(t)
	dataDir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir, _, set, _ := mount(t, st, fusefs.Config{Verify: true})
	var victim, intact string
	for d := range set.Blobs {
		if victim == "" {
			victim = blobstore.Name(mh.Multihash(d))
		} else {
			intact = blobstore.Name(mh.Multihash(d))
		}
	}
	path := filepath.Join(node.BlobDir(dataDir), victim[len(victim)-3:len(victim)-1], victim+".data")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	os.WriteFile(path, data, 0o644)
	if _, err := os.ReadFile(filepath.Join(dir, "blobs", victim)); !errors.Is(err, syscall.EIO) {
		t.Errorf("verified read of a flipped byte: %v, want EIO", err)
	}
	if _, err := os.ReadFile(filepath.Join(dir, "blobs", intact)); err != nil {
		t.Errorf("verified read of an intact blob: %v", err)
	}
}

// testLog sends the filesystem's log lines to the test's log.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// blocking never answers a Stat until the request is cancelled.
type blocking struct {
	blobstore.Store
	cancelled chan struct{}
}

// Stat and Get (a lookup's head) block until cancelled.
func (b *blocking) Stat(ctx context.Context, d mh.Multihash) (blobstore.Info, error) {
	<-ctx.Done()
	close(b.cancelled)
	return blobstore.Info{}, ctx.Err()
}

func (b *blocking) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	_, err := b.Stat(ctx, d)
	return nil, err
}

// TestInterrupt: a signal to a process stuck on the backend cancels the
// request (FUSE_INTERRUPT), and the call fails with EINTR rather than hang.
// (Buffered reads go through the kernel's readahead, which the kernel does
// not interrupt; lookups, like this stat, are.)
func TestInterrupt(t *testing.T) {
	fusetest.Require(t)
	st, _ := node.Open(context.Background(), node.Config{})
	set, _ := sample.New()
	set.Write(context.Background(), st)
	b := &blocking{Store: st.Blobs, cancelled: make(chan struct{})}
	root := newRoot(t, fusefs.Stores{Blobs: b}, fusefs.Config{Log: testLog(t)})
	dir := t.TempDir()
	server, err := fusefs.Mount(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { server.Unmount(); root.Close() }()
	path := filepath.Join(dir, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	tid := make(chan int, 1)
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		var st unix.Stat_t
		result <- unix.Stat(path, &st)
	}()
	thread := <-tid
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-b.cancelled:
			if err := <-result; !errors.Is(err, syscall.EINTR) {
				t.Fatalf("interrupted stat: %v, want EINTR", err)
			}
			return
		case <-tick.C:
			unix.Tgkill(os.Getpid(), thread, syscall.SIGUSR1) // until the read is in the kernel
		case <-deadline:
			t.Fatal("the backend request was never cancelled")
		}
	}
}

// TestOpTimeout: a backend that never answers fails the operation with
// EIO once its bound has passed (a fault, never ENOENT), instead of
// holding the caller forever.
func TestOpTimeout(t *testing.T) {
	fusetest.Require(t)
	st, _ := node.Open(context.Background(), node.Config{})
	b := &blocking{Store: st.Blobs, cancelled: make(chan struct{})}
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: b}, fusefs.Config{Log: testLog(t), OpTimeout: 200 * time.Millisecond}))
	var s unix.Stat_t
	err := unix.Stat(filepath.Join(dir, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"), &s)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("stat with a backend that never answers: %v, want EIO", err)
	}
	select {
	case <-b.cancelled:
	default:
		t.Fatal("the backend request was not cancelled")
	}
}
