package fusefs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/storacha/storefs/fusefs"
	aggwriter "github.com/storacha/storefs/internal/testsupport/aggregator"
	jobwriter "github.com/storacha/storefs/internal/testsupport/jobqueue"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/node"
	reader "github.com/storacha/storefs/store/pdpstate"
)

// pipelineNode is a data dir whose pieces stand at every step of Piri's
// PDP pipeline: aggregate A added as root 0 of proof set 4, B waiting in
// the manager's buffer, C built and never submitted, D's root add not
// confirmed, and one piece in the aggregator's buffer.
type pipelineNode struct {
	dataDir    string
	stores     *node.Stores
	db         *reader.DB
	pieces     []pdpstate.Piece
	a, b, c, d cid.Cid
	subsA      []pdpstate.Subroot
	jobs       *jobqueue.DB
}

// newPipelineNode writes the node's PDP state and job queues into its
// data dir and, when pgURL is set, the same into PostgreSQL too.
func newPipelineNode(t *testing.T, pgURL string) *pipelineNode {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := &pipelineNode{dataDir: t.TempDir()}
	st, err := node.Open(context.Background(), node.Config{DataDir: n.dataDir, Writable: true})
	must(err)
	t.Cleanup(func() { st.Close() })
	n.stores = st
	w, err := pdpstate.Create(n.dataDir)
	must(err)
	jw, err := jobwriter.Create(n.dataDir)
	must(err)
	ws, jws := []*pdpstate.Writer{w}, []*jobwriter.Writer{jw}
	if pgURL != "" {
		pw, err := pdpstate.CreatePostgres(pgURL)
		must(err)
		pj, err := jobwriter.OpenPostgres(pgURL)
		must(err)
		ws, jws = append(ws, pw), append(jws, pj)
	}
	each := func(f func(w *pdpstate.Writer) error) {
		t.Helper()
		for _, w := range ws {
			must(f(w))
		}
	}
	for i := range 8 {
		data := make([]byte, 2000*(i+1))
		rand.NewChaCha8([32]byte{byte(90 + i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(err)
		each(func(w *pdpstate.Writer) error { return w.AddPiece(p) })
		must(st.Blobs.Put(context.Background(), p.Digest, int64(len(data)), bytes.NewReader(data)))
		n.pieces = append(n.pieces, p)
	}
	each(func(w *pdpstate.Writer) error {
		return w.AddProofSet(pdpstate.ProofSet{ID: 4, ProvingPeriod: 2880, ChallengeWindow: 60, ProveAt: 777})
	})
	each(func(w *pdpstate.Writer) error {
		return w.AddProveFailure(4, 0, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "reading blob: no such file")
	})
	agg, err := aggwriter.Create(n.dataDir)
	must(err)
	each(func(w *pdpstate.Writer) error {
		n.a, n.subsA, err = w.AddRoot(4, 0, n.pieces[0:3])
		return err
	})
	_, paddedA := pdpstate.Layout(n.pieces[0:3])
	must(agg.PutAggregate(aggwriter.FromLayout(n.a, paddedA, n.subsA)))
	subsB, paddedB := pdpstate.Layout(n.pieces[3:5])
	n.b = pdpstate.RootCID(paddedB, "B")
	must(agg.PutAggregate(aggwriter.FromLayout(n.b, paddedB, subsB)))
	must(agg.SetSubmission([]cid.Cid{n.b}))
	subsC, paddedC := pdpstate.Layout(n.pieces[5:6])
	n.c = pdpstate.RootCID(paddedC, "C")
	must(agg.PutAggregate(aggwriter.FromLayout(n.c, paddedC, subsC)))
	each(func(w *pdpstate.Writer) error {
		n.d, err = w.AddRootAdd(4, n.pieces[6:7], nil)
		return err
	})
	subsD, paddedD := pdpstate.Layout(n.pieces[6:7])
	must(agg.PutAggregate(aggwriter.FromLayout(n.d, paddedD, subsD)))
	must(agg.SetBuffer(n.pieces[7:8]))
	must(agg.Close())
	// Aggregate C's add_roots job died.
	payload, err := jobwriter.AddRootsPayload([]cid.Cid{n.c})
	must(err)
	for _, jw := range jws {
		must(jw.Add(jobqueue.AddRoots, payload, time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC), 50, &jobwriter.Dead{Reason: "max_retries", Error: "adding roots: no proof set"}))
		must(jw.Close())
	}
	for _, w := range ws {
		must(w.Close())
	}
	n.db, err = reader.Open(n.dataDir)
	must(err)
	t.Cleanup(func() { n.db.Close() })
	n.jobs, err = jobqueue.Open(n.dataDir)
	must(err)
	t.Cleanup(func() { n.jobs.Close() })
	return n
}

func (n *pipelineNode) mount(t *testing.T) string {
	t.Helper()
	return n.mountWith(t, n.db, n.jobs)
}

func (n *pipelineNode) mountWith(t *testing.T, db *reader.DB, jobs *jobqueue.DB) string {
	t.Helper()
	cfg := fusefs.Config{PDP: db, JobQueue: jobs, Log: testLog(t), Aggregator: func() (*aggregator.DB, error) { return aggregator.Open(n.dataDir) }}
	return mountRoot(t, newRoot(t, fusefs.Stores{Blobs: n.stores.Blobs, Stores: n.stores.Stores}, cfg))
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v: %s", path, err, raw)
	}
}

type aggregateJSON struct {
	Root   string `json:"root"`
	State  string `json:"state"`
	Pieces []struct {
		Piece  string `json:"piece"`
		Offset uint64 `json:"offset"`
		Size   uint64 `json:"size"`
		Blob   string `json:"blob"`
	} `json:"pieces"`
}

func TestPDPAggregates(t *testing.T) {
	n := newPipelineNode(t, "")
	mnt := n.mount(t)
	pdp := filepath.Join(mnt, "pdp")
	ents, err := os.ReadDir(filepath.Join(pdp, "aggregates"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{n.a.String() + ".json", n.b.String() + ".json", n.c.String() + ".json", n.d.String() + ".json"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("/pdp/aggregates: %v, want %v", names, want)
	}
	for root, state := range map[cid.Cid]string{n.a: "added", n.b: "awaiting-root-add", n.c: "add-dead", n.d: "adding"} {
		var a aggregateJSON
		readJSON(t, filepath.Join(pdp, "aggregates", root.String()+".json"), &a)
		if a.Root != root.String() || a.State != state {
			t.Errorf("aggregate %s: %s, want %s", root, a.State, state)
		}
	}
	var a aggregateJSON
	readJSON(t, filepath.Join(pdp, "aggregates", n.a.String()+".json"), &a)
	if len(a.Pieces) != len(n.subsA) {
		t.Fatalf("aggregate A: %d pieces", len(a.Pieces))
	}
	for i, s := range n.subsA {
		p := a.Pieces[i]
		if p.Piece != s.Piece.CID.String() || p.Offset != s.Offset || p.Size != s.Piece.Padded || p.Blob != blobstore.Name(s.Piece.Digest) {
			t.Errorf("aggregate A piece %d: %+v, want the subroot at %d of blob %s", i, p, s.Offset, blobstore.Name(s.Piece.Digest))
		}
	}
	raw, err := os.ReadFile(filepath.Join(pdp, "aggregates", n.a.String()+".json"))
	if err != nil || !strings.Contains(string(raw), `"proofset": 4`) {
		t.Errorf("aggregate A names no root of proof set 4: %s", raw)
	}

	var buf struct {
		State     string `json:"state"`
		TotalSize uint64 `json:"total_size"`
		Pieces    []struct {
			Piece string `json:"piece"`
			Blob  string `json:"blob"`
		} `json:"pieces"`
		AwaitingRootAdd []string `json:"awaiting_root_add"`
	}
	readJSON(t, filepath.Join(pdp, "buffer.json"), &buf)
	last := n.pieces[7]
	if buf.State != "ok" || buf.TotalSize != last.Padded || len(buf.Pieces) != 1 || buf.Pieces[0].Piece != last.CID.String() ||
		buf.Pieces[0].Blob != blobstore.Name(last.Digest) || !slices.Equal(buf.AwaitingRootAdd, []string{n.b.String()}) {
		t.Errorf("buffer.json: %+v", buf)
	}
	if _, err := os.Stat(filepath.Join(pdp, "aggregates", n.pieces[0].CID.String()+".json")); !os.IsNotExist(err) {
		t.Errorf("a piece that is no aggregate: %v", err)
	}
	// Once read, the aggregator is let go: a node starting now takes its
	// lock. A listing holds it until the kernel releases the directory,
	// which it does after close(2) returns: the lock is polled for.
	for i := 0; ; i++ {
		piri, err := leveldb.NewDatastore(aggregator.Dir(n.dataDir), nil)
		if err == nil {
			piri.Close()
			break
		}
		if i == 200 {
			t.Fatalf("a node starting after /pdp was read: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// While the node holds the aggregator datastore, /pdp says so and the
// way round, and the rest of /pdp reads on.
func TestPDPAggregatorLocked(t *testing.T) {
	n := newPipelineNode(t, "")
	held, err := leveldb.NewDatastore(aggregator.Dir(n.dataDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	mnt := n.mount(t)
	pdp := filepath.Join(mnt, "pdp")
	ents, err := os.ReadDir(filepath.Join(pdp, "aggregates"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "LOCKED.txt" {
		t.Fatalf("/pdp/aggregates while locked: %v %v", ents, err)
	}
	text, err := os.ReadFile(filepath.Join(pdp, "aggregates", "LOCKED.txt"))
	if err != nil || !strings.Contains(string(text), "cp -a") {
		t.Errorf("LOCKED.txt: %s (%v)", text, err)
	}
	var buf struct{ State, Reason string }
	readJSON(t, filepath.Join(pdp, "buffer.json"), &buf)
	if buf.State != "unknown" || !strings.Contains(buf.Reason, "locked") {
		t.Errorf("buffer.json while locked: %+v", buf)
	}
	if _, err := os.ReadFile(filepath.Join(pdp, "proofsets", "4", "info.json")); err != nil {
		t.Errorf("the rest of /pdp while the aggregator is locked: %v", err)
	}
}
