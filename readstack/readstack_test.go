package readstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
)

// countingStore counts the ranged Gets that reach the blob store.
type countingStore struct {
	blobstore.Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, d, opts...)
}

// storeWith holds data under digest as it is, whether or not it matches.
func storeWith(t *testing.T, digest mh.Multihash, data []byte) *countingStore {
	t.Helper()
	objs := memory.New()
	if err := objs.Put(context.Background(), blobstore.FlatFS{}.Key(digest), int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: blobstore.New(objs, blobstore.FlatFS{})}
}

func randomBlob(t *testing.T, size int, seed byte) ([]byte, mh.Multihash) {
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	return data, digestOf(t, data)
}

func readRange(t *testing.T, r blobstore.Ranges, off, n int64) ([]byte, error) {
	t.Helper()
	body, err := r.ReadRange(context.Background(), off, n)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

func openCache(t *testing.T, dir string) *blobcache.Cache {
	t.Helper()
	c, err := blobcache.Open(dir, 64<<20, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A blob read once through a stack with a cache is read from the cache
// the next time, by any Blob of the stack, and whole on disk for a reader
// that reads the file itself.
func TestStackReadsThroughTheCache(t *testing.T) {
	data, d := randomBlob(t, 300<<10, 1)
	st := storeWith(t, d, data)
	c := openCache(t, t.TempDir())
	defer c.Close()
	s := New(Config{Blobs: st, Cache: c})

	b := s.Blob(d, int64(len(data)))
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	if f := b.CachedFile(); f != nil {
		f.Close()
		t.Fatal("a blob not yet read has a complete cache file")
	}
	got, err := readRange(t, b, 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %v", err)
	}
	f := b.CachedFile()
	if f == nil {
		t.Fatal("a blob read whole has no cache file")
	}
	f.Close()
	b.Close()
	if !b.Idle() {
		t.Error("a closed blob with nothing verified is not idle")
	}

	b = s.Blob(d, int64(len(data)))
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err = readRange(t, b, 1000, 5000)
	if err != nil || !bytes.Equal(got, data[1000:6000]) {
		t.Fatalf("second read: %v", err)
	}
	if n := st.gets.Load(); n != 1 {
		t.Errorf("store Gets: %d, want 1 (the second read is the cache's)", n)
	}
}

// Under --verify without a cache, the read that completes a corrupt
// blob is refused; so is every later open of it, by any Blob of the stack.
func TestStackRefusesACorruptBlob(t *testing.T) {
	data, d := randomBlob(t, 200<<10, 2)
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	s := New(Config{Blobs: storeWith(t, d, bad), Verify: true, Log: quietLog()})
	b := s.Blob(d, int64(len(bad)))
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	half := int64(len(bad) / 2)
	if err := b.Serve(context.Background(), bad[:half], 0); err != nil {
		t.Fatalf("a partial read is served unverified: %v", err)
	}
	if err := b.Serve(context.Background(), bad[half:], half); !errors.Is(err, ErrRefused) {
		t.Fatalf("the read completing a corrupt blob: %v, want ErrRefused", err)
	}
	if !b.Corrupt() || b.Idle() {
		t.Error("the verdict was not kept")
	}
	b.Close()
	again := s.Blob(d, int64(len(bad)))
	if err := again.Open(); !errors.Is(err, ErrRefused) {
		t.Fatalf("a later open of a corrupt blob: %v, want ErrRefused", err)
	}
	if New(Config{Blobs: storeWith(t, d, bad)}).Blob(d, 1).Corrupt() {
		t.Error("a stack without --verify finds a blob corrupt")
	}
}

// Under --verify with a cache, a blob verified whole leaves its outboard:
// the next mount checks every range against it, and a byte rotted in the
// cache fails the range that holds it, and the blob for good.
func TestStackOutboardCatchesRot(t *testing.T) {
	data, d := randomBlob(t, 5*blobcache.ChunkSize+1234, 3)
	st := storeWith(t, d, data)
	dir := t.TempDir()
	c := openCache(t, dir)
	s := New(Config{Blobs: st, Cache: c, Verify: true, Log: quietLog()})
	b := s.Blob(d, int64(len(data)))
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	got, err := readRange(t, b, 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(context.Background(), got, 0); err != nil {
		t.Fatalf("an intact blob read whole: %v", err)
	}
	if f := b.CachedFile(); f != nil {
		f.Close()
		t.Error("a cache file handed out under --verify")
	}
	b.Close()
	if b.Idle() {
		t.Error("the outboard was not kept")
	}
	c.Close()

	cached := filepath.Join(dir, "blobs", blobstore.Name(d))
	raw, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	raw[3*blobcache.ChunkSize+7] ^= 1
	if err := os.WriteFile(cached, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir)
	defer c.Close()
	s = New(Config{Blobs: st, Cache: c, Verify: true, Log: quietLog()})
	b = s.Blob(d, int64(len(data)))
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := readRange(t, b, 100, 4096); err != nil || !bytes.Equal(got, data[100:4196]) {
		t.Fatalf("an intact chunk: %v", err)
	}
	if _, err := readRange(t, b, 3*blobcache.ChunkSize, 4096); !errors.Is(err, ErrRefused) {
		t.Fatalf("the rotted chunk: %v, want ErrRefused", err)
	}
	if !b.Corrupt() {
		t.Error("a blob failing its outboard is not corrupt")
	}
	if gets := st.gets.Load(); gets != 1 {
		t.Errorf("store Gets: %d, want 1 (the first mount's)", gets)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
