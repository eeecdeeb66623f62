// Package objectstoretest is the conformance suite every objectstore
// backend passes: the same test code, each backend a case.
package objectstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/storacha/storefs/store/objectstore"
)

// Backend describes the backend under test.
type Backend struct {
	// New returns an empty store; the test owns it until the test ends.
	New func(t *testing.T) objectstore.Store
	// Key turns a test's logical name into a key the backend accepts
	// (flatfs, for one, accepts only lowercase base32 names).
	Key func(name string) string
	// Streams is true when Get reads from the backend as the caller reads,
	// so a large object must not be held in memory.
	Streams bool
	// Files is true when the backend's objects are local files: its
	// Files() must then serve them, and otherwise be nil.
	Files bool
	// Times is true when the backend keeps when each object was stored.
	Times bool
	// Ordered is true when List yields keys in lexical order: KeyAfter
	// must then answer, and otherwise be ErrUnordered.
	Ordered bool
}

// Run runs the whole suite.
func Run(t *testing.T, b Backend) {
	if b.Key == nil {
		b.Key = func(name string) string { return name }
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, b) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, b) })
	t.Run("Large", func(t *testing.T) { testLarge(t, b) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, b) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, b) })
	t.Run("List", func(t *testing.T) { testList(t, b) })
	t.Run("ConcurrentReaders", func(t *testing.T) { testConcurrent(t, b) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, b) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, b) })
	t.Run("FailingReader", func(t *testing.T) { testFailingReader(t, b) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, b) })
	t.Run("Files", func(t *testing.T) { testFiles(t, b) })
	t.Run("Times", func(t *testing.T) { testTimes(t, b) })
	t.Run("KeyAfter", func(t *testing.T) { testKeyAfter(t, b) })
}

// testKeyAfter checks KeyAfter against the keys List yields, on keys
// like a bucket of Piri v0.2.4 shards beside v0.2.3's bare keys.
func testKeyAfter(t *testing.T, b Backend) {
	s, ctx := b.New(t), context.Background()
	if !b.Ordered {
		if _, _, err := s.KeyAfter(ctx, ""); !errors.Is(err, objectstore.ErrUnordered) {
			t.Fatalf("KeyAfter of an unordered store: %v, want ErrUnordered", err)
		}
		return
	}
	keys := []string{"ab/x.data", "ci/y.data", "ciqaaa", "ciqbbb", "cj/z.data"}
	for _, k := range keys {
		if err := s.Put(ctx, b.Key(k), 1, bytes.NewReader([]byte{1})); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ after, want string }{
		{"", "ab/x.data"}, {"ab/x.data", "ci/y.data"}, {"ci", "ci/y.data"}, {"ci/y.data", "ciqaaa"},
		{"ciq", "ciqaaa"}, {"ciqaaa", "ciqbbb"}, {"ciq~", "cj/z.data"}, {"cj/z.data", ""}, {"zz", ""},
	} {
		got, ok, err := s.KeyAfter(ctx, b.Key(c.after))
		if err != nil {
			t.Fatalf("KeyAfter(%q): %v", c.after, err)
		}
		if want := c.want != ""; ok != want || (ok && got.Key != b.Key(c.want)) {
			t.Errorf("KeyAfter(%q) = %q, %v; want %q", c.after, got.Key, ok, c.want)
		}
		if ok && got.Size != 1 {
			t.Errorf("KeyAfter(%q): size %d, want 1", c.after, got.Size)
		}
	}
}

// testTimes checks that Stat, Get and List tell one time for an object:
// when it was stored (to the second: HTTP dates have no more), or none.
func testTimes(t *testing.T, b Backend) {
	s := b.New(t)
	ctx := context.Background()
	key := b.Key("timed")
	before := time.Now().Add(-2 * time.Second)
	Put(t, s, key, []byte("when"))
	after := time.Now().Add(2 * time.Second)
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, key, objectstore.WithRange(objectstore.Bytes(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	got := obj.ModTime()
	obj.Close()
	var listed time.Time
	for i, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if i.Key == key {
			listed = i.ModTime
		}
	}
	if !b.Times {
		if !info.ModTime.IsZero() || !got.IsZero() || !listed.IsZero() {
			t.Fatalf("a backend without times told %v, %v, %v", info.ModTime, got, listed)
		}
		return
	}
	if info.ModTime.Before(before) || info.ModTime.After(after) {
		t.Fatalf("Stat: stored at %v, want between %v and %v", info.ModTime, before, after)
	}
	sec := info.ModTime.Truncate(time.Second)
	if !got.Truncate(time.Second).Equal(sec) || !listed.Truncate(time.Second).Equal(sec) {
		t.Fatalf("times differ: Stat %v, Get %v, List %v", info.ModTime, got, listed)
	}
}

// testFiles checks the local-file side against Get and List: the same
// bytes, the same keys.
func testFiles(t *testing.T, b Backend) {
	s := b.New(t)
	files := s.Files()
	if !b.Files {
		if files != nil {
			t.Fatalf("Files() = %T, want nil: the backend's objects are not local files", files)
		}
		return
	}
	if files == nil {
		t.Fatal("Files() = nil for a backend of local files")
	}
	ctx := context.Background()
	want := map[string][]byte{}
	for i := range 3 {
		key := b.Key(fmt.Sprintf("files-%d", i))
		want[key] = Data(uint64(100+i), 1000*i)
		Put(t, s, key, want[key])
	}
	for key, data := range want {
		f, size, err := files.OpenFile(key)
		if err != nil {
			t.Fatalf("OpenFile(%s): %v", key, err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil || size != int64(len(data)) || !bytes.Equal(got, data) {
			t.Errorf("OpenFile(%s): size %d, %d bytes read (%v), want %d", key, size, len(got), err, len(data))
		}
	}
	if _, _, err := files.OpenFile(b.Key("files-missing")); !errors.Is(err, objectstore.ErrNotExist) {
		t.Errorf("OpenFile of a missing key: %v, want ErrNotExist", err)
	}
	seen := map[string]bool{}
	for info, err := range files.ListKeys(ctx, "", nil) {
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		if info.Size != -1 {
			t.Errorf("ListKeys without sizes: %s has size %d", info.Key, info.Size)
		}
		seen[info.Key] = true
	}
	sized := 0
	for info, err := range files.ListKeys(ctx, "", func() bool { return true }) {
		if err != nil {
			t.Fatalf("ListKeys with sizes: %v", err)
		}
		if data, ok := want[info.Key]; ok {
			sized++
			if info.Size != int64(len(data)) || info.ModTime.IsZero() {
				t.Errorf("ListKeys with sizes: %s has size %d, time %v; want %d", info.Key, info.Size, info.ModTime, len(data))
			}
		}
	}
	if sized != len(want) {
		t.Errorf("ListKeys with sizes: %d keys, want %d", sized, len(want))
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("ListKeys is missing %s", key)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("ListKeys: %d keys, want %d", len(seen), len(want))
	}
}

// Data returns n deterministic pseudo-random bytes.
func Data(seed uint64, n int) []byte {
	buf := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(buf)
	return buf
}

// Put stores data under key or fails the test.
func Put(t testing.TB, s objectstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

// Read returns the bytes of a Get, and the object's total size.
func Read(t testing.TB, s objectstore.Store, key string, opts ...objectstore.GetOption) ([]byte, int64) {
	t.Helper()
	obj, err := s.Get(context.Background(), key, opts...)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, obj.Size()
}

func testRoundTrip(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("roundtrip")
	data := Data(1, 100_000)
	Put(t, s, key, data)
	got, size := Read(t, s, key)
	if !bytes.Equal(got, data) || size != int64(len(data)) {
		t.Fatalf("round trip: got %d bytes (size %d), want %d", len(got), size, len(data))
	}
	info, err := s.Stat(context.Background(), key)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("stat: %+v, %v; want size %d", info, err, len(data))
	}
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
		t.Fatalf("stat after delete: %v, want ErrNotExist", err)
	}
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("delete of a missing key: %v, want nil", err)
	}
}

func testEmpty(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("empty")
	Put(t, s, key, nil)
	got, size := Read(t, s, key)
	if len(got) != 0 || size != 0 {
		t.Fatalf("empty object: got %d bytes, size %d", len(got), size)
	}
	info, err := s.Stat(context.Background(), key)
	if err != nil || info.Size != 0 {
		t.Fatalf("stat empty: %+v, %v", info, err)
	}
	_, err = s.Get(context.Background(), key, objectstore.WithRange(objectstore.From(0)))
	if !errors.Is(err, objectstore.ErrRangeNotSatisfiable) {
		t.Fatalf("range on empty object: %v, want ErrRangeNotSatisfiable", err)
	}
}

// testLarge puts and gets 64 MiB through streams: the source is generated
// as it is read and the sink only hashes, so the test itself never holds
// the object. Streaming backends must not either.
func testLarge(t *testing.T, b Backend) {
	if testing.Short() {
		t.Skip("64 MiB object: skipped in -short mode")
	}
	s := b.New(t)
	key := b.Key("large")
	const size = 64 << 20
	src := io.LimitReader(rand.NewChaCha8([32]byte{7}), size)
	want := sha256.New()
	if err := s.Put(context.Background(), key, size, io.TeeReader(src, want)); err != nil {
		t.Fatalf("put 64 MiB: %v", err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	obj, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got := sha256.New()
	n, err := io.CopyBuffer(got, obj, make([]byte, 256<<10))
	obj.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size || obj.Size() != size {
		t.Fatalf("read %d bytes (size %d), err %v; want %d", n, obj.Size(), err, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("64 MiB object came back different")
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; b.Streams && allocated > 16<<20 {
		t.Fatalf("streaming a 64 MiB object allocated %d MiB: the backend buffers it", allocated>>20)
	}
}

func testRanges(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("ranges")
	data := Data(2, 10_000)
	Put(t, s, key, data)
	last := int64(len(data) - 1)
	cases := []struct {
		name string
		r    objectstore.Range
		want []byte
	}{
		{"first byte", objectstore.Bytes(0, 0), data[:1]},
		{"last byte", objectstore.Bytes(last, last), data[last:]},
		{"middle", objectstore.Bytes(4096, 8191), data[4096:8192]},
		{"open end", objectstore.From(9000), data[9000:]},
		{"whole", objectstore.Bytes(0, last), data},
		{"end past the end", objectstore.Bytes(9990, 20_000), data[9990:]},
	}
	for _, c := range cases {
		got, size := Read(t, s, key, objectstore.WithRange(c.r))
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s (%s): got %d bytes, want %d", c.name, c.r, len(got), len(c.want))
		}
		if size != int64(len(data)) {
			t.Errorf("%s: Size() = %d, want the total %d", c.name, size, len(data))
		}
	}
	for _, r := range []objectstore.Range{objectstore.From(last + 1), objectstore.Bytes(20_000, 30_000)} {
		_, err := s.Get(context.Background(), key, objectstore.WithRange(r))
		var re *objectstore.RangeError
		if !errors.Is(err, objectstore.ErrRangeNotSatisfiable) || !errors.As(err, &re) {
			t.Errorf("range %s past the end: %v, want a *RangeError", r, err)
		}
	}
}

func testMissing(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("missing")
	if _, err := s.Get(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
		t.Errorf("get missing: %v, want ErrNotExist", err)
	}
	if _, err := s.Get(context.Background(), key, objectstore.WithRange(objectstore.Bytes(0, 9))); !errors.Is(err, objectstore.ErrNotExist) {
		t.Errorf("ranged get missing: %v, want ErrNotExist", err)
	}
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
		t.Errorf("stat missing: %v, want ErrNotExist", err)
	}
}

func testList(t *testing.T, b Backend) {
	s := b.New(t)
	want := map[string]int64{}
	for i := range 25 {
		key := b.Key(fmt.Sprintf("list%02d", i))
		data := Data(uint64(i), i*37)
		Put(t, s, key, data)
		want[key] = int64(len(data))
	}
	got := map[string]int64{}
	for info, err := range s.List(context.Background(), "") {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if _, dup := got[info.Key]; dup {
			t.Fatalf("list yielded %q twice", info.Key)
		}
		got[info.Key] = info.Size
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list:\n got %v\nwant %v", got, want)
	}
	// Stopping early must be allowed (the iterator cleans up).
	n := 0
	for _, err := range s.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
}

func testConcurrent(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("concurrent")
	data := Data(3, 1<<20)
	Put(t, s, key, data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(i * 60_000)
			obj, err := s.Get(context.Background(), key, objectstore.WithRange(objectstore.Bytes(off, off+59_999)))
			if err != nil {
				errs <- err
				return
			}
			defer obj.Close()
			got, err := io.ReadAll(obj)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data[off:off+60_000]) {
				errs <- fmt.Errorf("reader %d got wrong bytes", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCancel(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("cancel")
	data := Data(4, 4<<20)
	Put(t, s, key, data)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("get with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.Put(ctx, b.Key("cancelput"), 3, bytes.NewReader([]byte("abc"))); err == nil {
		t.Error("put with a cancelled context succeeded")
	}

	// Cancelling during a read ends the stream with an error.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer obj.Close()
	if _, err := io.ReadFull(obj, make([]byte, 1024)); err != nil {
		t.Fatalf("first read: %v", err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, obj); err == nil {
		t.Errorf("read after cancel: %d more bytes and no error", n)
	}
	for info, err := range s.List(ctx, "") {
		if err == nil {
			t.Errorf("list with a cancelled context yielded %q", info.Key)
		}
		break
	}
}

func testSizeMismatch(t *testing.T, b Backend) {
	s := b.New(t)
	for _, c := range []struct {
		name     string
		declared int64
		actual   int
	}{{"short", 1000, 999}, {"long", 1000, 1001}, {"emptydeclared", 0, 1}} {
		key := b.Key("mismatch" + c.name)
		err := s.Put(context.Background(), key, c.declared, bytes.NewReader(Data(5, c.actual)))
		if !errors.Is(err, objectstore.ErrSizeMismatch) {
			t.Errorf("%s: put %d bytes declared %d: %v, want ErrSizeMismatch", c.name, c.actual, c.declared, err)
		}
		if _, err := s.Stat(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
			t.Errorf("%s: after a failed put, stat = %v, want ErrNotExist", c.name, err)
		}
	}
}

// errAtEOF fails at the point where the stream would end, as a verifying
// reader does when the bytes do not match their digest.
type errAtEOF struct{ r io.Reader }

var errVerify = errors.New("digest mismatch")

func (e errAtEOF) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errVerify
	}
	return n, err
}

func testFailingReader(t *testing.T, b Backend) {
	s := b.New(t)
	for _, size := range []int{0, 10, 1 << 20} {
		key := b.Key(fmt.Sprintf("failing%d", size))
		err := s.Put(context.Background(), key, int64(size), errAtEOF{bytes.NewReader(Data(6, size))})
		if !errors.Is(err, errVerify) {
			t.Errorf("put of %d bytes whose reader fails at EOF: %v, want that error", size, err)
		}
		if _, err := s.Stat(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
			t.Errorf("after a failed put of %d bytes, stat = %v, want ErrNotExist", size, err)
		}
	}
}

func testOverwrite(t *testing.T, b Backend) {
	s := b.New(t)
	key := b.Key("overwrite")
	Put(t, s, key, []byte("first version"))
	Put(t, s, key, []byte("second"))
	if got, _ := Read(t, s, key); string(got) != "second" {
		t.Fatalf("after overwrite got %q", got)
	}
}
