package fusefs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
	reader "github.com/storacha/storefs/store/pdpstate"
)

// /pdp shows proof set 4: its standing, each root's subroots as links to
// the blobs behind them (dangling for the one gone), the failed root
// add with its fix, the pieces; blobs carry their piece CID.
func TestPDP(t *testing.T) {
	dataDir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := pdpstate.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []pdpstate.Piece
	var datas [][]byte
	for i := range 4 {
		data := make([]byte, 3000*(i+1))
		rand.NewChaCha8([32]byte{byte(40 + i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		if err != nil {
			t.Fatal(err)
		}
		ps, datas = append(ps, p), append(datas, data)
		if err := w.AddPiece(p); err != nil {
			t.Fatal(err)
		}
		if i != 2 { // the third blob is gone
			if err := st.Blobs.Put(context.Background(), p.Digest, int64(len(data)), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddProofSet(pdpstate.ProofSet{ID: 4, ProvingPeriod: 2880, ChallengeWindow: 60, ProveAt: 777}))
	_, subs, err := w.AddRoot(4, 0, ps[:3])
	must(err)
	failed := false
	_, err = w.AddRootAdd(4, ps[3:], &failed)
	must(err)
	must(w.AddProveFailure(4, 0, time.Now(), "reading blob: no such file"))
	must(w.Close())
	db, err := reader.Open(dataDir)
	must(err)
	t.Cleanup(func() { db.Close() })
	root := newRoot(t, fusefs.Stores{Blobs: st.Blobs, Stores: st.Stores}, fusefs.Config{PDP: db, Log: testLog(t)})
	mnt := mountRoot(t, root)
	pdp := filepath.Join(mnt, "pdp")

	names := func(dir string) []string {
		t.Helper()
		ents, err := os.ReadDir(dir)
		must(err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(pdp); !slices.Equal(got, []string{"aggregates", "buffer.json", "pending", "pieces", "proofsets"}) {
		t.Fatalf("/pdp: %v", got)
	}
	if got := names(filepath.Join(pdp, "proofsets")); !slices.Equal(got, []string{"4"}) {
		t.Fatalf("/pdp/proofsets: %v", got)
	}
	var info map[string]any
	raw, err := os.ReadFile(filepath.Join(pdp, "proofsets", "4", "info.json"))
	must(err)
	must(json.Unmarshal(raw, &info))
	var total uint64
	for _, p := range ps[:3] {
		total += p.Padded
	}
	if info["roots"] != 1.0 || info["subroots"] != 3.0 || info["bytes"] != float64(total) || info["at_risk_bytes"] != float64(ps[2].Padded) ||
		info["next_challenge_epoch"] != 777.0 || info["failed_root_adds"] != 1.0 || len(info["last_prove_failures"].([]any)) != 1 {
		t.Fatalf("info.json: %s", raw)
	}

	rootDir := filepath.Join(pdp, "proofsets", "4", "roots", "0")
	links := names(rootDir)
	if len(links) != 4 || links[len(links)-1] != "info.json" {
		t.Fatalf("a root: %v", links)
	}
	for _, s := range subs {
		link := filepath.Join(rootDir, subrootName(s))
		target, err := os.Readlink(link)
		must(err)
		if target != "../../../../../blobs/"+blobstore.Name(s.Piece.Digest) {
			t.Fatalf("%s → %s", link, target)
		}
		got, err := os.ReadFile(link)
		i := slices.IndexFunc(ps, func(p pdpstate.Piece) bool { return bytes.Equal(p.Digest, s.Piece.Digest) })
		switch {
		case i == 2 && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("the link to a blob gone: %v, want dangling", err)
		case i != 2 && (err != nil || !bytes.Equal(got, datas[i])):
			t.Errorf("the link to blob %d: %v", i, err)
		}
	}
	raw, err = os.ReadFile(filepath.Join(rootDir, "info.json"))
	must(err)
	if !strings.Contains(string(raw), `"state": "missing"`) || strings.Count(string(raw), `"state": "ok"`) != 2 || !json.Valid(raw) {
		t.Fatalf("root info.json: %s", raw)
	}
	// States are found at each open, in a file whose size stat knew.
	fi, err := os.Stat(filepath.Join(rootDir, "info.json"))
	must(err)
	if fi.Size() != int64(len(raw)) {
		t.Fatalf("root info.json: stat says %d bytes, read %d", fi.Size(), len(raw))
	}
	must(st.Blobs.Put(context.Background(), ps[2].Digest, int64(len(datas[2])), bytes.NewReader(datas[2])))
	again, err := os.ReadFile(filepath.Join(rootDir, "info.json"))
	must(err)
	if strings.Count(string(again), `"state": "ok"`) != 3 || len(again) != len(raw) || !json.Valid(again) {
		t.Fatalf("root info.json once the blob is back: %s", again)
	}

	pending := names(filepath.Join(pdp, "pending"))
	if len(pending) != 1 {
		t.Fatalf("pending: %v", pending)
	}
	raw, err = os.ReadFile(filepath.Join(pdp, "pending", pending[0]))
	must(err)
	if !strings.Contains(string(raw), `"state": "failed"`) || !strings.Contains(string(raw), "piri client pdp proofset repair") {
		t.Fatalf("a failed root add: %s", raw)
	}

	if got := names(filepath.Join(pdp, "pieces")); len(got) != 4 {
		t.Fatalf("pieces: %v", got)
	}
	got, err := os.ReadFile(filepath.Join(pdp, "pieces", ps[0].CID.String()))
	if err != nil || !bytes.Equal(got, datas[0]) {
		t.Fatalf("a piece's link: %v", err)
	}
	if v := xattr(t, filepath.Join(mnt, "blobs", blobstore.Name(ps[1].Digest)), "user.storefs.piece"); v != ps[1].CID.String() {
		t.Fatalf("user.storefs.piece: %q", v)
	}
}

// A link looked up again once its entry expired is the inode the kernel
// has: a new one would lose the target the kernel keeps for it.
func TestPDPLinksKeepTheirInodes(t *testing.T) {
	dataDir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := pdpstate.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("piece"), 100)
	p, err := pdpstate.PieceOf(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddPiece(p); err != nil {
		t.Fatal(err)
	}
	if err := w.AddProofSet(pdpstate.ProofSet{ID: 1}); err != nil {
		t.Fatal(err)
	}
	_, subs, err := w.AddRoot(1, 0, []pdpstate.Piece{p})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := reader.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Entries expire at once (within a jiffy): stats below are LOOKUPs
	// again.
	m := metrics.New()
	cfg := fusefs.Config{PDP: db, Log: testLog(t), Metrics: m, RecordTimeout: time.Nanosecond, RecordAttrTimeout: time.Nanosecond}
	mnt := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: st.Blobs, Stores: st.Stores}, cfg))
	ino := func(path string) uint64 {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	for _, path := range []string{
		filepath.Join(mnt, "pdp", "proofsets", "1", "roots", "0"),
		filepath.Join(mnt, "pdp", "proofsets", "1", "roots", "0", subrootName(subs[0])),
		filepath.Join(mnt, "pdp", "pieces", p.CID.String()),
	} {
		first := ino(path)
		lookups := m.FuseOps("lookup")
		for i := 0; m.FuseOps("lookup") == lookups; i++ {
			if i == 1000 {
				t.Fatalf("%s: the kernel never looked it up again", path)
			}
			time.Sleep(time.Millisecond) // a jiffy, for the entry to expire
			if got := ino(path); got != first {
				t.Fatalf("%s: inode %d, then %d; want one", path, first, got)
			}
		}
	}
}

func subrootName(s pdpstate.Subroot) string {
	return strings.Join([]string{itoa(s.Offset), s.Piece.CID.String()}, "-")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// pdpWriterEnv makes the test binary a Piri writing its PDP state: a
// second process, as Piri is to a mount.
const pdpWriterEnv = "STOREFS_TEST_PDP_WRITER"

func pdpWrite(dir string) int {
	st, err := pdpstate.Churn(dir, 200, 10*time.Millisecond)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %d\n", st.Busy, st.MaxWAL)
	return 0
}

// churn runs the writer process: 200 transactions at 100 a second.
func churn(t *testing.T, dir string) (busy int, maxWAL int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pdpWriterEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the writer: %v", err)
	}
	if _, err := fmt.Sscan(string(out), &busy, &maxWAL); err != nil {
		t.Fatalf("the writer said %q", out)
	}
	return busy, maxWAL
}

// A Piri writing its state ~100 transactions a second beside a mount
// reading /pdp and a check reading the same state: the writer never
// waits for a lock, and its WAL grows no more than twice what it does
// alone (readers never hold a snapshot long enough to stop checkpoints).
func TestPDPBesideAWriter(t *testing.T) {
	dataDir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := pdpstate.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []pdpstate.Piece
	for i := range 20 {
		data := bytes.Repeat([]byte{byte(i)}, 1000+i)
		p, err := pdpstate.PieceOf(data)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		if err := w.AddPiece(p); err != nil {
			t.Fatal(err)
		}
		if err := st.Blobs.Put(context.Background(), p.Digest, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddProofSet(pdpstate.ProofSet{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.AddRoot(1, 0, ps); err != nil {
		t.Fatal(err)
	}
	w.Close()

	aloneBusy, aloneWAL := churn(t, dataDir)

	db, err := reader.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := fusefs.Config{PDP: db, Log: testLog(t)}
	mnt := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: st.Blobs, Stores: st.Stores}, cfg))
	ctx, stop := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	var reads, checks atomic.Int64
	readers.Go(func() {
		for ctx.Err() == nil {
			// Entries are kept RecordTimeout: each read here asks the
			// database anew only once it ran out; list too, which always does.
			os.ReadFile(filepath.Join(mnt, "pdp", "proofsets", "1", "info.json"))
			os.ReadDir(filepath.Join(mnt, "pdp", "proofsets", "1", "roots", "0"))
			reads.Add(1)
		}
	})
	readers.Go(func() {
		for ctx.Err() == nil {
			if _, err := check.Run(ctx, check.Stores{Blobs: st.Blobs, Stores: st.Stores}, check.Config{PDP: db}, func(check.Finding) {}); err != nil && ctx.Err() == nil {
				t.Errorf("check beside the writer: %v", err)
				return
			}
			checks.Add(1)
		}
	})
	busy, wal := churn(t, dataDir)
	stop()
	readers.Wait()
	t.Logf("alone: %d busy, WAL up to %d; beside %d mount reads and %d checks: %d busy, WAL up to %d", aloneBusy, aloneWAL, reads.Load(), checks.Load(), busy, wal)
	if busy != 0 || aloneBusy != 0 {
		t.Errorf("the writer was refused a lock %d times (alone: %d)", busy, aloneBusy)
	}
	if wal > 2*aloneWAL {
		t.Errorf("the WAL grew to %d bytes beside storefs, %d alone", wal, aloneWAL)
	}
	if reads.Load() == 0 || checks.Load() == 0 {
		t.Errorf("the readers did not read: %d, %d", reads.Load(), checks.Load())
	}
}
