package check_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
	reader "github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/proofrisk"
)

// TestPDPProblems plants each PDP problem in proof set 9 and finds it:
// a subroot whose blob is gone, one whose bytes rot (sha256 and commP
// from the one read of --verify-commp), one whose commP row names
// another blob's piece, a piece no commP row names, a root whose
// subroots overlap, a root add whose transaction failed.
func TestPDPProblems(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t)
	dir := t.TempDir()
	w, err := pdpstate.Create(dir)
	must(t, err)
	var ps []pdpstate.Piece
	var datas [][]byte
	for i := range 6 {
		data := make([]byte, 2000*(i+1))
		rand.NewChaCha8([32]byte{byte(90 + i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(t, err)
		ps, datas = append(ps, p), append(datas, data)
	}
	intact, missing, rotten, liar, unknown, other := 0, 1, 2, 3, 4, 5
	for _, i := range []int{intact, rotten, liar, other} {
		data := datas[i]
		if i == rotten {
			data = bytes.Clone(data)
			data[100] ^= 1
		}
		must(t, objectstore.Put(ctx, n.blobObjects, blobstore.S3{}.Key(ps[i].Digest), data))
		n.records(t, ps[i].Digest, int64(len(data)), true, 1764000000+86400)
	}
	for _, i := range []int{intact, missing, rotten} {
		must(t, w.AddPiece(ps[i]))
	}
	must(t, w.AddPiece(pdpstate.Piece{Digest: ps[liar].Digest, Size: ps[liar].Size, CID: ps[other].CID, Padded: ps[other].Padded}))
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 9, ProvingPeriod: 2880}))
	_, _, err = w.AddRoot(9, 0, []pdpstate.Piece{ps[intact], ps[missing], ps[rotten], ps[other], ps[unknown]})
	must(t, err)
	bad := pdpstate.RootCID(1<<20, "overlap")
	must(t, w.AddSubroot(9, 1, bad, "0xbad", pdpstate.Subroot{Piece: ps[intact], Offset: 0}))
	must(t, w.AddSubroot(9, 1, bad, "0xbad", pdpstate.Subroot{Piece: ps[intact], Offset: 128}))
	failed := false
	_, err = w.AddRootAdd(9, ps[intact:intact+1], &failed)
	must(t, err)
	must(t, w.Close())
	db, err := reader.Open(dir)
	must(t, err)
	defer db.Close()

	sum, found := run(t, n.stores, check.Config{PDP: db, VerifyCommP: true})
	var got []string
	for _, f := range found {
		// The sample node's PDP acceptances are in no proof: TestPipeline
		// judges those.
		if f.Kind == "pdp" && slices.Contains([]string{check.ProofAtRisk, check.Unresolvable, check.BadRootOffsets, check.StuckRootAdd}, f.Name()) {
			detail := f.Detail
			if i := strings.Index(detail, ":"); i > 0 {
				detail = detail[:i]
			}
			got = append(got, f.Name()+" "+f.Blob+" "+detail)
		}
	}
	want := []string{
		check.ProofAtRisk + " " + blobstore.Name(ps[missing].Digest) + " " + proofrisk.Missing,
		check.ProofAtRisk + " " + blobstore.Name(ps[rotten].Digest) + " " + proofrisk.BadHash,
		check.ProofAtRisk + " " + blobstore.Name(ps[liar].Digest) + " " + proofrisk.BadCommP, // other's piece in root 0 resolves to liar's blob
		check.Unresolvable + "  no commP row names the piece; it alone puts " + "",
		check.BadRootOffsets + "  ",
		check.StuckRootAdd + "  add transaction 0xpending9-" + "",
	}
	if len(got) != len(want) {
		t.Fatalf("pdp findings:\n  %s", strings.Join(got, "\n  "))
	}
	slices.Sort(got)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool {
			return strings.HasPrefix(g, strings.TrimSuffix(w, " ")) || strings.HasPrefix(g, w)
		}) {
			t.Errorf("no %q in\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	if sum.Problems[check.HashMismatch] != 1 {
		t.Errorf("the rotten blob is a hash-mismatch too: %v", sum.Problems)
	}
	set := sum.PDP[9]
	var total uint64
	for _, i := range []int{intact, missing, rotten, other, unknown} {
		total += ps[i].Padded
	}
	total += 2 * ps[intact].Padded // root 1
	atRisk := ps[missing].Padded + ps[rotten].Padded + ps[other].Padded + ps[unknown].Padded
	if set.Bytes != total || set.AtRiskBytes != atRisk || math.Abs(set.FailureProbability-proofrisk.PeriodFailure(atRisk/32, total/32)) > 1e-12 {
		t.Errorf("proof set 9: %+v; want %d bytes, %d at risk", set, total, atRisk)
	}

	// Without --verify only what the listing shows: the missing blob.
	_, found = run(t, n.stores, check.Config{PDP: db})
	risks := 0
	for _, f := range found {
		if f.Problem == check.ProofAtRisk {
			risks++
		}
	}
	if risks != 1 {
		t.Errorf("without --verify: %d at risk, want 1 (the missing blob)", risks)
	}
}
