package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/internal/helpers/sample"
	aggwriter "github.com/storacha/storefs/internal/testsupport/aggregator"
	jobwriter "github.com/storacha/storefs/internal/testsupport/jobqueue"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/node"
)

// pdp piece follows a piece past the proof sets, into the aggregator and
// its queues, and names an aggregate's pieces; check reports the blob
// whose commP job died, and refuses a nonsense --unproven-after.
func TestPDPPiecePipeline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := node.Open(ctx, node.Config{DataDir: dir, Writable: true})
	must(t, err)
	w, err := pdpstate.Create(dir)
	must(t, err)
	var ps []pdpstate.Piece
	for i := range 4 {
		data := make([]byte, 4000+i)
		rand.NewChaCha8([32]byte{byte(200 + i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(t, err)
		ps = append(ps, p)
		must(t, st.Blobs.Put(ctx, p.Digest, int64(len(data)), bytes.NewReader(data)))
		cause := ipldutil.CBORCID([]byte("cause " + blobstore.Name(p.Digest)))
		ac := acceptancestore.Acceptance{Space: sample.Space(), Digest: p.Digest, Size: int64(len(data)), ExecutedAt: time.Now().Unix(), Cause: cause,
			PDPAccept: &acceptancestore.Promise{Selector: ".out.ok", Link: cause}}
		must(t, st.Acceptances.Put(ctx, ac.ID(), ac))
		if i != 3 {
			must(t, w.AddPiece(p))
		}
	}
	must(t, st.Close())
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 2}))
	_, _, err = w.AddRoot(2, 0, ps[:1])
	must(t, err)
	must(t, w.Close())
	agg, err := aggwriter.Create(dir)
	must(t, err)
	subs, padded := pdpstate.Layout(ps[1:2])
	root := pdpstate.RootCID(padded, "B")
	must(t, agg.PutAggregate(aggwriter.FromLayout(root, padded, subs)))
	must(t, agg.SetSubmission([]cid.Cid{root}))
	must(t, agg.SetBuffer(ps[2:3]))
	must(t, agg.Close())
	jobs, err := jobwriter.Create(dir)
	must(t, err)
	payload, err := jobwriter.CommpPayload(ps[3].Digest)
	must(t, err)
	must(t, jobs.Add(jobqueue.Commp, payload, time.Now(), 50, &jobwriter.Dead{Reason: "max_retries", Error: "reading blob: EIO"}))
	must(t, jobs.Close())

	out, stderr, code := storefs(t, "pdp", "piece", "--data-dir", dir, "--json",
		blobstore.Name(ps[1].Digest), ps[2].CID.String(), root.String(), blobstore.Name(ps[0].Digest))
	if code != 0 {
		t.Fatalf("pdp piece: exit %d: %s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var inAgg, buffered struct {
		Pipeline struct{ Stage, Aggregate, AggregateState string } `json:"pipeline"`
	}
	var aggregate struct {
		State  string
		Pieces []struct{ Piece, Blob string }
	}
	var proven struct{ Subroots []struct{ ProofSet int64 } }
	for _, v := range []any{&inAgg, &buffered, &aggregate, &proven} {
		must(t, dec.Decode(v))
	}
	if inAgg.Pipeline.Stage != "aggregate" || inAgg.Pipeline.Aggregate != root.String() {
		t.Errorf("a piece in a submitted aggregate: %+v", inAgg)
	}
	if buffered.Pipeline.Stage != "buffer" {
		t.Errorf("a buffered piece: %+v", buffered)
	}
	if aggregate.State != "awaiting-root-add" || len(aggregate.Pieces) != 1 || aggregate.Pieces[0].Blob != blobstore.Name(ps[1].Digest) {
		t.Errorf("the aggregate: %+v", aggregate)
	}
	if len(proven.Subroots) != 1 || proven.Subroots[0].ProofSet != 2 {
		t.Errorf("a proven piece: %+v", proven)
	}
	out, _, _ = storefs(t, "pdp", "piece", "--data-dir", dir, blobstore.Name(ps[3].Digest))
	if !strings.Contains(out, "reading blob: EIO") {
		t.Errorf("a blob whose commP job died: %s", out)
	}

	out, stderr, code = storefs(t, "pdp", "status", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "buffer: 1 pieces") || !strings.Contains(out, "aggregates waiting to be added: 1") ||
		!strings.Contains(out, "compute_commp jobs: 0 queued, 1 dead (last: reading blob: EIO)") {
		t.Errorf("pdp status: exit %d\n%s\n%s", code, out, stderr)
	}

	out, stderr, code = storefs(t, "check", "--data-dir", dir, "--json")
	if code != 1 || !strings.Contains(out, `"problem":"dead-commp"`) || !strings.Contains(out, `"info":"awaiting-root-add"`) {
		t.Errorf("check: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, stderr, code := storefs(t, "check", "--data-dir", dir, "--unproven-after", "-1h"); code != 2 || !strings.Contains(stderr, "unproven-after") {
		t.Errorf("check --unproven-after -1h: exit %d: %s", code, stderr)
	}
}
