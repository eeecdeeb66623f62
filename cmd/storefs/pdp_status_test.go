package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// pdp status names the subroot whose blob is gone, with what it puts at
// risk, beside the intact ones; says when there is no PDP state, and that
// PDP state needs a data dir.
func TestPDPStatus(t *testing.T) {
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true, BlobsOnly: true})
	must(t, err)
	w, err := pdpstate.Create(dir)
	must(t, err)
	var ps []pdpstate.Piece
	for i := range 3 {
		data := make([]byte, 4000*(i+1))
		rand.NewChaCha8([32]byte{byte(i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(t, err)
		ps = append(ps, p)
		must(t, w.AddPiece(p))
		if i != 1 { // the second blob is gone
			must(t, st.Blobs.Put(context.Background(), p.Digest, int64(len(data)), bytes.NewReader(data)))
		}
	}
	st.Close()
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 3, ProvingPeriod: 2880, ChallengeWindow: 60, ProveAt: 5000}))
	_, _, err = w.AddRoot(3, 0, ps)
	must(t, err)
	failed := false
	_, err = w.AddRootAdd(3, ps[:1], &failed)
	must(t, err)
	must(t, w.AddProveFailure(3, 0, time.Now(), "open blob: no such file or directory"))
	must(t, w.Close())

	out, stderr, code := storefs(t, "pdp", "status", "--data-dir", dir, "--json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var j setJSON
	dec := json.NewDecoder(strings.NewReader(out))
	must(t, dec.Decode(&j))
	var pipeline struct {
		Pipeline *struct{ Aggregator string } `json:"pipeline"`
	}
	if err := dec.Decode(&pipeline); err != nil || pipeline.Pipeline == nil || pipeline.Pipeline.Aggregator != "none" {
		t.Errorf("status --json ends with the pipeline: %+v %v", pipeline, err)
	}
	var total uint64
	for _, p := range ps {
		total += p.Padded
	}
	want := 1 - math.Pow(1-float64(ps[1].Padded)/float64(total), 5)
	if j.ID != 3 || j.Roots != 1 || j.Subroots != 3 || j.Bytes != total || j.AtRiskBytes != ps[1].Padded || len(j.AtRisk) != 1 ||
		j.AtRisk[0].Blob != blobstore.Name(ps[1].Digest) || j.AtRisk[0].Risk != "missing" || math.Abs(j.FailureProbability-want) > 1e-12 ||
		j.NextChallengeEpoch != 5000 || j.FailedAdds != 1 || len(j.ProveFailures) != 1 {
		t.Fatalf("status: %s", out)
	}
	out, _, code = storefs(t, "pdp", "status", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "at risk: 1 subroots") || !strings.Contains(out, "piri client pdp proofset repair") || !strings.Contains(out, blobstore.Name(ps[1].Digest)) {
		t.Fatalf("status, text: exit %d\n%s", code, out)
	}
	if _, stderr, code := storefs(t, "pdp", "status", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(stderr, "no PDP state") {
		t.Fatalf("status of a data dir without PDP state: exit %d: %s", code, stderr)
	}
	if _, stderr, code := storefs(t, "pdp", "status", "--s3-endpoint", "127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "PDP state is local") {
		t.Fatalf("status without a data dir: exit %d: %s", code, stderr)
	}
}

// check of a data dir with PDP state names the subroot at risk and
// writes the proof sets' risk to the textfile.
func TestCheckPDP(t *testing.T) {
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true, BlobsOnly: true})
	must(t, err)
	w, err := pdpstate.Create(dir)
	must(t, err)
	var ps []pdpstate.Piece
	for i := range 2 {
		data := make([]byte, 5000*(i+1))
		rand.NewChaCha8([32]byte{byte(20 + i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(t, err)
		ps = append(ps, p)
		must(t, w.AddPiece(p))
		if i == 0 {
			must(t, st.Blobs.Put(context.Background(), p.Digest, int64(len(data)), bytes.NewReader(data)))
		}
	}
	st.Close()
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 12}))
	_, _, err = w.AddRoot(12, 0, ps)
	must(t, err)
	must(t, w.Close())
	prom := filepath.Join(t.TempDir(), "storefs.prom")
	out, stderr, code := storefs(t, "check", "--data-dir", dir, "--catalog-dir", t.TempDir(), "--verify-commp", "--prom", prom)
	if code != 1 || !strings.Contains(out, "proof-at-risk") || !strings.Contains(out, blobstore.Name(ps[1].Digest)) {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, stderr)
	}
	raw, err := os.ReadFile(prom)
	must(t, err)
	want := 1 - math.Pow(1-float64(ps[1].Padded)/float64(ps[0].Padded+ps[1].Padded), 5)
	if !strings.Contains(string(raw), fmt.Sprintf("storefs_pdp_at_risk_bytes{proofset=\"12\"} %d\n", ps[1].Padded)) ||
		!strings.Contains(string(raw), fmt.Sprintf("storefs_pdp_period_failure_probability{proofset=\"12\"} %g\n", want)) {
		t.Fatalf("textfile:\n%s", raw)
	}
}

// pdp piece walks blob → piece → proof set roots and back, and names what
// it does not know.
func TestPDPPiece(t *testing.T) {
	dir := t.TempDir()
	w, err := pdpstate.Create(dir)
	must(t, err)
	data := bytes.Repeat([]byte("piece "), 1000)
	p, err := pdpstate.PieceOf(data)
	must(t, err)
	must(t, w.AddPiece(p))
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 2}))
	root, _, err := w.AddRoot(2, 5, []pdpstate.Piece{p})
	must(t, err)
	must(t, w.Close())
	for _, q := range []string{blobstore.Name(p.Digest), p.CID.String()} {
		out, stderr, code := storefs(t, "pdp", "piece", "--data-dir", dir, "--json", q)
		var j pieceJSON
		if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.Blob != blobstore.Name(p.Digest) || j.Piece != p.CID.String() ||
			j.Padded != p.Padded || len(j.Subroots) != 1 || j.Subroots[0].ProofSet != 2 || j.Subroots[0].RootID != 5 || j.Subroots[0].Root != root.String() {
			t.Fatalf("piece %s: exit %d %s %s", q, code, out, stderr)
		}
	}
	other, _ := pdpstate.PieceOf(bytes.Repeat([]byte("other "), 100))
	if _, stderr, code := storefs(t, "pdp", "piece", "--data-dir", dir, blobstore.Name(other.Digest)); code != 1 || !strings.Contains(stderr, "no PDP piece") {
		t.Fatalf("an unknown blob: exit %d %s", code, stderr)
	}
}
