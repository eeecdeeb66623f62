package dsadapter_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/objectstore/objectstoretest"
)

func TestConformanceMemory(t *testing.T) {
	objectstoretest.Run(t, objectstoretest.Backend{
		New: func(t *testing.T) objectstore.Store { return dsadapter.NewMemory() },
	})
}

func TestConformanceLevelDB(t *testing.T) {
	objectstoretest.Run(t, objectstoretest.Backend{
		New: func(t *testing.T) objectstore.Store { return openLevelDB(t, t.TempDir(), false) },
	})
}

func openLevelDB(t *testing.T, dir string, readOnly bool) *dsadapter.Store {
	t.Helper()
	s, err := dsadapter.OpenLevelDB(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPrefixIsAStringPrefix(t *testing.T) {
	s := dsadapter.NewMemory()
	for _, k := range []string{"receipts/bafyA", "receipts/bafyB", "receiptsX/c", "ranLinkIndex/bafyA", "top"} {
		objectstoretest.Put(t, s, k, []byte(k))
	}
	for prefix, want := range map[string]string{
		"receipts/":      "receipts/bafyA receipts/bafyB",
		"receipts/bafyB": "receipts/bafyB",
		"receipts":       "receipts/bafyA receipts/bafyB receiptsX/c",
		"t":              "top",
	} {
		var got []string
		for info, err := range s.List(context.Background(), prefix) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, info.Key)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("list %q = %v, want %s", prefix, got, want)
		}
	}
}

// TestReadOnlyLeavesDirUntouched proves a read-only open and reads change
// no byte (nor mtime) of a LevelDB directory.
func TestReadOnlyLeavesDirUntouched(t *testing.T) {
	dir := t.TempDir()
	w, err := dsadapter.OpenLevelDB(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	objectstoretest.Put(t, w, "receipts/a", []byte("record"))
	w.Close()
	before, err := treehash.Sum(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := openLevelDB(t, dir, true)
	if got, _ := objectstoretest.Read(t, r, "receipts/a"); string(got) != "record" {
		t.Fatalf("read %q", got)
	}
	for _, err := range r.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Put(context.Background(), "x", 1, strings.NewReader("x")); err == nil {
		t.Error("put into a read-only leveldb succeeded")
	}
	r.Close()
	after, err := treehash.Sum(dir)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatal("read-only use changed the leveldb directory")
	}
	if _, err := dsadapter.OpenLevelDB(filepath.Join(dir, "absent"), true); err == nil {
		t.Error("read-only open of a missing leveldb succeeded")
	}
}

// TestLockedByAnotherProcess holds the LevelDB in a child process, as a
// running Piri node does, and expects a quick, clear error.
func TestLockedByAnotherProcess(t *testing.T) {
	if dir := os.Getenv("STOREFS_HOLD_LEVELDB"); dir != "" {
		s, err := dsadapter.OpenLevelDB(dir, false)
		if err != nil {
			os.Exit(3)
		}
		defer s.Close()
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin) // hold the lock until the parent closes stdin
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "STOREFS_HOLD_LEVELDB="+dir)
	hold, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close(); cmd.Wait() })
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child did not lock the leveldb: %q, %v", buf, err)
	}

	for _, readOnly := range []bool{true, false} {
		start := time.Now()
		_, err := dsadapter.OpenLevelDB(dir, readOnly)
		if !errors.Is(err, dsadapter.ErrLocked) || !strings.Contains(err.Error(), dir) {
			t.Errorf("open (readOnly=%v) of a locked leveldb: %v; want ErrLocked naming %s", readOnly, err, dir)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the locked error took %v", d)
		}
	}
}

func BenchmarkRangedGet(b *testing.B) {
	b.Run("mapdatastore", func(b *testing.B) { objectstoretest.Bench(b, dsadapter.NewMemory(), "bench") })
	b.Run("leveldb", func(b *testing.B) {
		s, err := dsadapter.OpenLevelDB(b.TempDir(), false)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		objectstoretest.Bench(b, s, "bench")
	})
}
