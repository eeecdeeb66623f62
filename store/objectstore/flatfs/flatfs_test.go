package flatfs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/flatfs"
	"github.com/storacha/storefs/store/objectstore/objectstoretest"
)

func TestConformance(t *testing.T) {
	objectstoretest.Run(t, objectstoretest.Backend{
		New: func(t *testing.T) objectstore.Store {
			s, err := flatfs.Open(filepath.Join(t.TempDir(), "store"), flatfs.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Streams: true,
		Files:   true,
		Times:   true,
	})
}

// helloKey is sha2-256("hello world") as Piri names it.
const helloKey = "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"

// piriDir lays a store out by hand, byte for byte as Piri writes it.
func piriDir(t *testing.T) string {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "SHARDING"), []byte("/repo/flatfs/shard/v1/next-to-last/2\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "_README"), []byte("readme\n"), 0o444))
	must(t, os.MkdirAll(filepath.Join(dir, ".temp"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, ".temp", "half-written"), []byte("junk"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "32"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "32", helloKey+".data"), []byte("hello world"), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPiriLayout(t *testing.T) {
	dir := piriDir(t)
	before, err := treehash.Sum(dir)
	must(t, err)

	s, err := flatfs.Open(dir, flatfs.Options{})
	must(t, err)
	got, size := objectstoretest.Read(t, s, helloKey)
	if string(got) != "hello world" || size != 11 {
		t.Fatalf("got %q (size %d)", got, size)
	}
	part, _ := objectstoretest.Read(t, s, helloKey, objectstore.WithRange(objectstore.Bytes(0, 4)))
	if string(part) != "hello" {
		t.Fatalf("range 0-4: %q", part)
	}
	var listed []objectstore.Info
	for info, err := range s.List(context.Background(), "") {
		must(t, err)
		listed = append(listed, info)
	}
	if len(listed) != 1 || listed[0].Key != helloKey || listed[0].Size != 11 {
		t.Fatalf("list: %+v", listed)
	}

	after, err := treehash.Sum(dir)
	must(t, err)
	if before != after {
		t.Fatal("opening and reading the store changed the directory")
	}
}

func TestCreateLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	s, err := flatfs.Open(dir, flatfs.Options{Create: true, Sync: true})
	must(t, err)
	objectstoretest.Put(t, s, helloKey, []byte("hello world"))
	sharding, err := os.ReadFile(filepath.Join(dir, "SHARDING"))
	must(t, err)
	if string(sharding) != "/repo/flatfs/shard/v1/next-to-last/2\n" {
		t.Fatalf("SHARDING = %q", sharding)
	}
	if _, err := os.Stat(filepath.Join(dir, "_README")); err != nil {
		t.Fatalf("_README: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "32", helloKey+".data")); err != nil || string(data) != "hello world" {
		t.Fatalf("blob file: %q, %v", data, err)
	}
	temps, err := os.ReadDir(filepath.Join(dir, ".temp"))
	must(t, err)
	if len(temps) != 0 {
		t.Fatalf(".temp holds %d files after a put", len(temps))
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := flatfs.Open(filepath.Join(t.TempDir(), "absent"), flatfs.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}

	notStore := t.TempDir()
	must(t, os.WriteFile(filepath.Join(notStore, "file"), nil, 0o644))
	if _, err := flatfs.Open(notStore, flatfs.Options{Create: true}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty dir without SHARDING, Create: %v", err)
	}
	if _, err := flatfs.Open(notStore, flatfs.Options{}); err == nil || !strings.Contains(err.Error(), "SHARDING") {
		t.Errorf("dir without SHARDING: %v", err)
	}

	corrupt := t.TempDir()
	must(t, os.WriteFile(filepath.Join(corrupt, "SHARDING"), []byte("garbage\n"), 0o644))
	_, err := flatfs.Open(corrupt, flatfs.Options{Create: true})
	if err == nil || !strings.Contains(err.Error(), "corrupt SHARDING") || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("corrupt SHARDING: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	s, err := flatfs.Open(piriDir(t), flatfs.Options{})
	must(t, err)
	for _, key := range []string{"", "../SHARDING", "32/" + helloKey, "a\x00b", ".temp", strings.Repeat("a", 300)} {
		if _, err := s.Get(context.Background(), key); !errors.Is(err, objectstore.ErrNotExist) {
			t.Errorf("get %q: %v, want ErrNotExist", key, err)
		}
	}
}

func BenchmarkRangedGet(b *testing.B) {
	s, err := flatfs.Open(filepath.Join(b.TempDir(), "store"), flatfs.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	objectstoretest.Bench(b, s, helloKey)
}

// TestListManyShards: shards are read ahead in parallel but listed in
// order, each key once; a caller that stops early or is cancelled stops
// the readers.
func TestListManyShards(t *testing.T) {
	ctx := context.Background()
	s, err := flatfs.Open(filepath.Join(t.TempDir(), "store"), flatfs.Options{Create: true})
	must(t, err)
	want := map[string]bool{}
	for i := range 600 { // keys ending in 3 distinct chars: many shard directories
		key := fmt.Sprintf("key%04dx%c%cz", i, 'a'+i%26, 'a'+i/26%26)
		must(t, objectstore.Put(ctx, s, key, []byte(key)))
		want[key] = true
	}
	var shards []string
	seen := map[string]bool{}
	for info, err := range s.List(ctx, "") {
		must(t, err)
		if seen[info.Key] || !want[info.Key] || info.Size != int64(len(info.Key)) {
			t.Fatalf("listed %q (size %d): duplicate or unknown", info.Key, info.Size)
		}
		seen[info.Key] = true
		shard := info.Key[len(info.Key)-3 : len(info.Key)-1]
		if len(shards) == 0 || shards[len(shards)-1] != shard {
			shards = append(shards, shard)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d keys, want %d", len(seen), len(want))
	}
	if !slices.IsSorted(shards) || len(shards) < 100 {
		t.Fatalf("%d shards, in order %v", len(shards), slices.IsSorted(shards))
	}

	// Sizes for the shards begun while sized says so, in order: the
	// first five here, and every key of them.
	asks := 0
	sizedShards := map[string]bool{}
	for info, err := range s.ListKeys(ctx, "", func() bool { asks++; return asks <= 5 }) {
		must(t, err)
		shard := info.Key[len(info.Key)-3 : len(info.Key)-1]
		if info.Size == -1 {
			if slices.Index(shards, shard) < 5 {
				t.Fatalf("%s of shard %d listed without its size", info.Key, slices.Index(shards, shard))
			}
			continue
		}
		if info.Size != int64(len(info.Key)) || info.ModTime.IsZero() {
			t.Fatalf("listed %q with size %d, time %v", info.Key, info.Size, info.ModTime)
		}
		sizedShards[shard] = true
	}
	if len(sizedShards) != 5 || asks != len(shards) {
		t.Fatalf("sizes for %d shards, sized asked %d times for %d shards; want 5 and once a shard", len(sizedShards), asks, len(shards))
	}

	before := runtime.NumGoroutine()
	n := 0
	for _, err := range s.ListKeys(ctx, "", nil) {
		must(t, err)
		if n++; n == 10 {
			break
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lerr error
	for _, err := range s.ListKeys(cctx, "", nil) {
		cancel()
		if err != nil {
			lerr = err
			break
		}
	}
	if !errors.Is(lerr, context.Canceled) {
		t.Fatalf("cancelled listing ended with %v, want context.Canceled", lerr)
	}
	// the shard readers finish their directory and exit
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines after the listings stopped, %d before", g, before)
	}
}
