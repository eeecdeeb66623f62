package pdpstate_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	reader "github.com/storacha/storefs/store/pdpstate"
)

func pieces(t *testing.T, n int, seed uint64) []pdpstate.Piece {
	t.Helper()
	var out []pdpstate.Piece
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		data := make([]byte, 127+rng.IntN(5000)*(i+1))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		p, err := pdpstate.PieceOf(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// state writes a node's PDP state: proof set 7 with two roots, a pending
// and a failed root add, two prove failures (and one of another set).
func state(t *testing.T, dataDir string) (*pdpstate.Writer, []pdpstate.Piece) {
	t.Helper()
	w, err := pdpstate.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ps := pieces(t, 6, 1)
	for _, p := range ps {
		must(t, w.AddPiece(p))
	}
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 7, ProvingPeriod: 2880, ChallengeWindow: 60, ProveAt: 123456, InitReady: true}))
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 8}))
	if _, _, err := w.AddRoot(7, 0, ps[:3]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.AddRoot(7, 1, ps[3:4]); err != nil {
		t.Fatal(err)
	}
	failed := false
	if _, err := w.AddRootAdd(7, ps[4:5], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddRootAdd(7, ps[5:6], &failed); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	must(t, w.AddProveFailure(7, 0, now.Add(-time.Hour), "reading blob: no such file"))
	must(t, w.AddProveFailure(7, 1, now, "unexpected EOF"))
	must(t, w.AddProveFailure(70, 1, now, "another set"))
	return w, ps
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func files(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(reader.Path(dataDir)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// readAll reads everything a reader reads, and checks it.
func readAll(t *testing.T, db *reader.DB, ps []pdpstate.Piece) {
	t.Helper()
	ctx := context.Background()
	sets, err := db.ProofSets(ctx)
	if err != nil || len(sets) != 2 || sets[0].ID != 7 || sets[0].ProvingPeriod != 2880 || sets[0].ProveAtEpoch != 123456 || !sets[0].InitReady || sets[1].ProvingPeriod != 0 {
		t.Fatalf("proof sets: %+v %v", sets, err)
	}
	var subs []reader.Subroot
	must(t, db.Subroots(ctx, 7, func(s reader.Subroot) bool { subs = append(subs, s); return true }))
	if len(subs) != 4 || subs[0].RootID != 0 || subs[3].RootID != 1 || subs[0].Offset != 0 || subs[1].Offset != subs[0].Size {
		t.Fatalf("subroots: %+v", subs)
	}
	var adds []reader.RootAdd
	must(t, db.RootAdds(ctx, func(a reader.RootAdd) bool { adds = append(adds, a); return true }))
	if len(adds) != 2 || adds[0].Pending == adds[1].Pending || adds[0].Failed == adds[1].Failed {
		t.Fatalf("root adds: %+v", adds)
	}
	p, ok, err := db.PieceOf(ctx, ps[2].Digest)
	if err != nil || !ok || p.CID != ps[2].CID.String() || p.Size != ps[2].Size {
		t.Fatalf("piece of a blob: %+v %v %v", p, ok, err)
	}
	n := 0
	must(t, db.Pieces(ctx, func(reader.Piece) bool { n++; return true }))
	if n != len(ps) {
		t.Fatalf("%d pieces, want %d", n, len(ps))
	}
	fails, err := db.ProveFailures(ctx, 7, 10)
	if err != nil || len(fails) != 2 || !strings.Contains(fails[0].Err, "unexpected EOF") {
		t.Fatalf("prove failures: %+v %v", fails, err)
	}
}

// A stopped Piri's state is opened immutable; a live one's through its
// shared memory, a write under way; a WAL left without its -shm from a
// private copy. None makes a file in Piri's directory.
func TestOpenWithoutHarm(t *testing.T) {
	t.Run("stopped", func(t *testing.T) {
		dir := t.TempDir()
		w, ps := state(t, dir)
		must(t, w.Close())
		before := files(t, dir)
		db, err := reader.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, db, ps)
		db.Close()
		if after := files(t, dir); !slices.Equal(before, after) {
			t.Fatalf("files before %v, after %v", before, after)
		}
	})
	t.Run("stopped, then started", func(t *testing.T) {
		dir := t.TempDir()
		w, _ := state(t, dir)
		must(t, w.Close())
		db, err := reader.Open(dir) // immutable now
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if sets, err := db.ProofSets(context.Background()); err != nil || len(sets) != 2 {
			t.Fatalf("before Piri starts: %v %v", sets, err)
		}
		live, err := pdpstate.Open(dir) // Piri starts and writes
		must(t, err)
		defer live.Close()
		must(t, live.AddProofSet(pdpstate.ProofSet{ID: 50}))
		if sets, err := db.ProofSets(context.Background()); err != nil || len(sets) != 3 {
			t.Fatalf("after Piri wrote: %d sets, %v; want 3", len(sets), err)
		}
	})
	t.Run("live", func(t *testing.T) {
		dir := t.TempDir()
		w, ps := state(t, dir)
		defer w.Close()
		tx, err := w.DB().Begin()
		must(t, err)
		_, err = tx.Exec(`INSERT INTO pdp_proof_sets (id, init_ready, create_message_hash, service) VALUES (99, 0, '0xcreate7', 'x')`)
		must(t, err)
		before := files(t, dir)
		if !slices.Contains(before, "state.db-shm") {
			t.Fatalf("a live state without -shm: %v", before)
		}
		db, err := reader.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, db, ps) // the uncommitted set 99 is not seen
		db.Close()
		must(t, tx.Commit())
		if after := files(t, dir); !slices.Equal(before, after) {
			t.Fatalf("files before %v, after %v", before, after)
		}
	})
	t.Run("wal without shm", func(t *testing.T) {
		dir := t.TempDir()
		w, ps := state(t, dir)
		defer w.Close()
		// Piri killed: its WAL holds committed pages, and the -shm is gone.
		copyDir := t.TempDir()
		must(t, os.MkdirAll(filepath.Dir(reader.Path(copyDir)), 0o755))
		for _, s := range []string{"", "-wal"} {
			data, err := os.ReadFile(reader.Path(dir) + s)
			must(t, err)
			must(t, os.WriteFile(reader.Path(copyDir)+s, data, 0o644))
		}
		before := files(t, copyDir)
		db, err := reader.Open(copyDir)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, db, ps)
		db.Close()
		if after := files(t, copyDir); !slices.Equal(before, after) {
			t.Fatalf("files before %v, after %v", before, after)
		}
	})
}

// What is wrong is said: no state, a database that is not Piri's, a file
// that is no database.
func TestBadState(t *testing.T) {
	dir := t.TempDir()
	if _, err := reader.Open(dir); !errors.Is(err, reader.ErrNoState) {
		t.Fatalf("no state: %v", err)
	}
	must(t, os.MkdirAll(filepath.Dir(reader.Path(dir)), 0o755))
	must(t, os.WriteFile(reader.Path(dir), []byte(strings.Repeat("not a database ", 100)), 0o644))
	if _, err := reader.Open(dir); !errors.Is(err, reader.ErrNotPiri) {
		t.Fatalf("a file that is no database: %v", err)
	}
	other := t.TempDir()
	w, _ := state(t, other)
	_, err := w.DB().Exec(`ALTER TABLE pdp_proofset_roots DROP COLUMN subroot_size`)
	must(t, err)
	must(t, w.Close())
	_, err = reader.Open(other)
	if !errors.Is(err, reader.ErrNotPiri) || !strings.Contains(err.Error(), "subroot_size") {
		t.Fatalf("a schema without a column: %v", err)
	}
}
