package check

import (
	"context"
	"fmt"
	"slices"

	"github.com/storacha/storefs/internal/helpers/digestset"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/proofrisk"
)

// pdpState is what the check learns of the blobs behind PDP pieces: the
// commP table (read once), and from --verify which blobs hash wrong and
// each piece blob's computed commP.
type pdpState struct {
	// listed is the blob table the proofs are judged against.
	listed   *digestset.Table
	pieces   proofrisk.Pieces
	byDigest proofrisk.ByDigest // the pieces by blob
	badHash  map[string]bool    // string(digest); nil: no PDP state
	commps   map[string]string  // string(digest) → computed piece CID
}

// withProofs adds the PDP steps to a check's. The commP table is read
// from the start, beside the others: it needs nothing of theirs. Under
// --verify the blobs are read once for the proofs too, so the table is
// awaited before that read and the proofs judged after it, on what it
// found. Without it the proofs need only the listing (the first step),
// and are judged beside the record steps, against a snapshot of it (the
// record steps mark its rows).
func (a *auditor) withProofs(ctx context.Context, steps []func(context.Context) error) []func(context.Context) error {
	loaded := make(chan error, 1)
	a.bg.Go(func() { loaded <- a.pdpPieces(ctx) })
	if a.cfg.Verify {
		return append(steps,
			func(context.Context) error { return <-loaded },
			a.verify,
			func(ctx context.Context) error { return a.pdp(ctx, &a.table) })
	}
	proofs := make(chan error, 1)
	start := func(ctx context.Context) error {
		listed := a.table.Snapshot()
		a.bg.Go(func() {
			if err := <-loaded; err != nil {
				proofs <- err
				return
			}
			proofs <- a.pdp(ctx, listed)
		})
		return nil
	}
	steps = slices.Insert(steps, 1, start)
	return append(steps, func(context.Context) error { return <-proofs })
}

// pdpPieces reads the commP table.
func (a *auditor) pdpPieces(ctx context.Context) error {
	pieces, err := proofrisk.LoadPieces(ctx, a.cfg.PDP)
	if err != nil {
		return err
	}
	a.pieces, a.byDigest = pieces, pieces.ByDigest()
	a.badHash, a.commps = map[string]bool{}, map[string]string{}
	return nil
}

func (a *auditor) isPiece(digest []byte) bool {
	_, ok := a.byDigest.Find(digest)
	return ok
}

// hashed records what --verify found of a blob (one goroutine).
func (a *auditor) hashed(digest []byte, commp string, bad bool) {
	if a.badHash == nil {
		return
	}
	if bad {
		a.badHash[string(digest)] = true
	}
	if commp != "" {
		a.commps[string(digest)] = commp
	}
}

// judge says why a subroot's blob fails a challenge, from the listing
// (present, its size) and --verify (its hash, its commP): no blob is read
// again.
func (a *auditor) judge(ctx context.Context, s *proofrisk.Subroot) (string, error) {
	r := a.listed.Find(s.Blob)
	switch {
	case r == nil:
		return proofrisk.Missing, nil
	case r.Size != s.BlobSize:
		return proofrisk.WrongSize, nil
	case a.badHash[string(s.Blob)]:
		return proofrisk.BadHash, nil
	}
	if c, ok := a.commps[string(s.Blob)]; ok && c != s.Piece {
		return proofrisk.BadCommP, nil
	}
	return "", nil
}

// pdp checks every proof set's subroots against the blobs, and the root
// adds Piri will not retry.
func (a *auditor) pdp(ctx context.Context, listed *digestset.Table) error {
	a.listed = listed
	a.sum.PDP = map[int64]PDPSet{}
	adds, err := proofrisk.Adds(ctx, a.cfg.PDP)
	if err != nil {
		return err
	}
	sets, err := a.cfg.PDP.ProofSets(ctx)
	if err != nil {
		return fmt.Errorf("pdp state: %w", err)
	}
	cfg := proofrisk.Config{Judge: a.judge}
	for _, ps := range sets {
		var setLeaves uint64
		var risky []proofrisk.Subroot
		set, err := proofrisk.Assess(ctx, a.cfg.PDP, a.st.Blobs, a.pieces, ps, adds[ps.ID], cfg, func(s proofrisk.Subroot) error {
			a.pipe.inRoot(a.pieces, s.Root, s.PieceIndex, stageProven)
			setLeaves += s.Size / proofrisk.LeafSize
			if s.Risk != "" {
				risky = append(risky, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		a.sum.PDP[ps.ID] = PDPSet{Bytes: set.Bytes(), AtRiskBytes: set.AtRiskBytes(), FailureProbability: set.FailureProbability}
		for _, s := range risky {
			key := fmt.Sprintf("proof set %d, root %d, offset %d, piece %s", s.ProofSet, s.RootID, s.Offset, s.Piece)
			switch s.Risk {
			case proofrisk.Unresolvable:
				a.found(Unresolvable, Finding{Kind: "pdp", Key: key, Bytes: int64(s.Size),
					Detail: fmt.Sprintf("no commP row names the piece; it alone puts %.4g of proof set %d's periods at risk", proofrisk.PeriodFailure(s.Size/proofrisk.LeafSize, setLeaves), s.ProofSet)})
			default:
				a.found(ProofAtRisk, Finding{Kind: "pdp", Key: key, Blob: blobstore.Name(s.Blob), Bytes: int64(s.Size),
					Detail: fmt.Sprintf("%s: adds %.4g to the chance proof set %d fails a period (%.4g in all)", s.Risk,
						proofrisk.PeriodFailure(s.Size/proofrisk.LeafSize, setLeaves), s.ProofSet, set.FailureProbability)})
			}
		}
		for _, r := range set.BadOffsets {
			a.found(BadRootOffsets, Finding{Kind: "pdp", Key: fmt.Sprintf("proof set %d, %s", ps.ID, r)})
		}
	}
	seen := map[string]bool{}
	return a.cfg.PDP.RootAdds(ctx, func(r pdpstate.RootAdd) bool {
		key := fmt.Sprintf("proof set %d, root %s", r.ProofSet, r.Root)
		stage := stageAdding
		if r.Failed {
			stage = stageStuck // reported as stuck-root-add
		}
		i, ok := a.pieces.Index(r.Piece)
		if !ok {
			i = -1
		}
		a.pipe.inRoot(a.pieces, r.Root, i, stage)
		if r.Failed && !seen[key] {
			seen[key] = true
			a.found(StuckRootAdd, Finding{Kind: "pdp", Key: key, Detail: "add transaction " + r.AddMessageHash + " failed"})
		}
		return true
	})
}
