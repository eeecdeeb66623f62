package proofrisk_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore/memory"
	reader "github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/proofrisk"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type blob struct {
	data  []byte
	piece pdpstate.Piece
}

func blobs(t *testing.T, n int) []blob {
	var out []blob
	for i := range n {
		data := make([]byte, 1000*(n-i)+127)
		rand.NewChaCha8([32]byte{byte(i)}).Read(data)
		p, err := pdpstate.PieceOf(data)
		must(t, err)
		out = append(out, blob{data, p})
	}
	return out
}

// A node whose proof set 7 stands on: an intact blob, a missing one, one
// with a flipped byte, one cut short, one whose recorded commP is not
// its own, and a piece no commP row names; a second root lies about its
// offsets.
func TestRisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := pdpstate.Create(dir)
	must(t, err)
	bs := blobs(t, 6)
	objects := memory.New()
	store := blobstore.New(objects, blobstore.S3{})
	put := func(b blob, data []byte) {
		must(t, objects.Put(ctx, blobstore.S3{}.Key(b.piece.Digest), int64(len(data)), bytes.NewReader(data)))
	}
	intact, missing, flipped, short, liar, orphan := bs[0], bs[1], bs[2], bs[3], bs[4], bs[5]
	put(intact, intact.data)
	flippedData := bytes.Clone(flipped.data)
	flippedData[500] ^= 1
	put(flipped, flippedData)
	put(short, short.data[:len(short.data)-1])
	put(liar, liar.data)
	for _, b := range []blob{intact, missing, flipped, short} {
		must(t, w.AddPiece(b.piece))
	}
	// liar's row names orphan's piece: the subroot resolves to liar's
	// blob, whose commP is not that piece.
	must(t, w.AddPiece(pdpstate.Piece{Digest: liar.piece.Digest, Size: liar.piece.Size, CID: orphan.piece.CID, Padded: orphan.piece.Padded}))
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 7, ProvingPeriod: 2880, ProveAt: 1000}))
	_, _, err = w.AddRoot(7, 0, []pdpstate.Piece{intact.piece, missing.piece, flipped.piece, short.piece})
	must(t, err)
	_, _, err = w.AddRoot(7, 1, []pdpstate.Piece{orphan.piece})
	must(t, err)
	// A root whose subroots overlap.
	root := pdpstate.RootCID(8192, "bad")
	must(t, w.AddSubroot(7, 2, root, "0xbad", pdpstate.Subroot{Piece: intact.piece, Offset: 0}))
	must(t, w.AddSubroot(7, 2, root, "0xbad", pdpstate.Subroot{Piece: missing.piece, Offset: 64}))
	unknown := blobs(t, 7)[6].piece
	_, _, err = w.AddRoot(7, 3, []pdpstate.Piece{unknown})
	must(t, err)
	must(t, w.Close())

	st, err := reader.Open(dir)
	must(t, err)
	defer st.Close()
	for _, tc := range []struct {
		name string
		cfg  proofrisk.Config
		want map[string]string // piece CID → risk, root 0 and 1
	}{
		{"sizes", proofrisk.Config{}, map[string]string{missing.piece.CID.String(): proofrisk.Missing, short.piece.CID.String(): proofrisk.WrongSize}},
		{"verify", proofrisk.Config{Verify: true}, map[string]string{missing.piece.CID.String(): proofrisk.Missing, short.piece.CID.String(): proofrisk.WrongSize, flipped.piece.CID.String(): proofrisk.BadHash}},
		{"verify-commp", proofrisk.Config{VerifyCommP: true}, map[string]string{missing.piece.CID.String(): proofrisk.Missing, short.piece.CID.String(): proofrisk.WrongSize, flipped.piece.CID.String(): proofrisk.BadCommP, orphan.piece.CID.String(): proofrisk.BadCommP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pieces, err := proofrisk.LoadPieces(ctx, st)
			must(t, err)
			sets, err := st.ProofSets(ctx)
			must(t, err)
			for _, ps := range sets {
				var bad, total uint64
				set, err := proofrisk.Assess(ctx, st, store, pieces, ps, [2]int{}, tc.cfg, func(s proofrisk.Subroot) error {
					total += s.Size / 32
					want := tc.want[s.Piece]
					if s.RootID == 3 {
						want = proofrisk.Unresolvable
					}
					if s.RootID == 2 {
						want = s.Risk // the overlap's subroots stand as their blobs do
					}
					if s.Risk != want {
						t.Errorf("root %d piece %s: risk %q, want %q", s.RootID, s.Piece, s.Risk, want)
					}
					if s.Risk != "" {
						bad += s.Size / 32
					}
					return nil
				})
				must(t, err)
				if set.Roots != 4 || set.Leaves != total || set.AtRiskLeaves != bad {
					t.Errorf("set: %d roots, %d leaves (%d at risk); want 4, %d (%d)", set.Roots, set.Leaves, set.AtRiskLeaves, total, bad)
				}
				if want := 1 - math.Pow(1-float64(bad)/float64(total), 5); math.Abs(set.FailureProbability-want) > 1e-12 {
					t.Errorf("probability %v, want %v", set.FailureProbability, want)
				}
				if len(set.BadOffsets) != 1 {
					t.Errorf("bad offsets: %v, want root 2 only", set.BadOffsets)
				}
			}
			// Run hands over the subroots at risk only.
			n := 0
			must(t, proofrisk.Run(ctx, st, store, tc.cfg, func(set proofrisk.Set, risky []proofrisk.Subroot) error {
				for _, s := range risky {
					if s.Risk == "" {
						t.Errorf("Run handed over a subroot not at risk: %+v", s)
					}
				}
				n++
				return nil
			}))
			if n != 1 {
				t.Fatalf("%d sets", n)
			}
		})
	}
}
