// Package proofrisk says what will fail a PDP challenge before the chain
// does: for each proof set of a node's PDP state, the blob behind every
// subroot (a piece in an on-chain root), whether it is there, of its
// recorded size and (asked) intact, and what the bad ones put at risk.
//
// A challenge draws 5 leaves (32 bytes of the padded tree each) per
// proving period; Piri proves a leaf by reading its subroot's whole blob,
// so one bad byte fails every challenge that lands in that subroot, and
// one failed challenge loses the set's period. With b leaves under bad
// subroots of the set's n, a period fails with probability
// 1 − (1 − b/n)^5.
package proofrisk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/piece"
)

// Challenges is how many leaves a proving period draws
// (smartcontracts.NumChallenges in Piri).
const Challenges = 5

// LeafSize is a leaf of the padded tree.
const LeafSize = 32

// Why a subroot is at risk.
const (
	Missing      = "missing"      // no blob under its multihash
	WrongSize    = "wrong-size"   // the blob is not of its recorded size
	BadHash      = "bad-sha256"   // the blob's bytes do not hash to its name (Verify)
	BadCommP     = "bad-commp"    // the blob's commP is not the subroot's piece (VerifyCommP)
	Unresolvable = "unresolvable" // no pdp_piece_mh_to_commp row names the piece
	Unreadable   = "unreadable"   // the store failed reading it (not decided)
)

// Subroot is one subroot and what stands behind it.
type Subroot struct {
	pdpstate.Subroot
	Blob mh.Multihash // nil when unresolvable
	// BlobSize is the size Piri recorded for the blob.
	BlobSize int64
	// Risk is why the subroot fails a challenge ("": it does not).
	Risk string
	Err  error // the store's error, for Unreadable
}

// Set is a proof set's standing.
type Set struct {
	pdpstate.ProofSet
	Roots, Subroots int
	// Leaves is the set's size in padded leaves; AtRiskLeaves those under
	// subroots at risk.
	Leaves, AtRiskLeaves uint64
	// FailureProbability is the chance a proving period fails.
	FailureProbability float64
	// BadOffsets names roots whose subroot offsets are not cumulative, or
	// whose padded size is not the next power of two of their sum.
	BadOffsets []string
	// PendingAdds and FailedAdds count root adds not moved into roots
	// (failed: add_message_ok = 0, which Piri does not retry).
	PendingAdds, FailedAdds int
	ProveFailures           []pdpstate.Failure
}

// Bytes is the set's padded size.
func (s Set) Bytes() uint64 { return s.Leaves * LeafSize }

// AtRiskBytes is the padded size of its subroots at risk.
func (s Set) AtRiskBytes() uint64 { return s.AtRiskLeaves * LeafSize }

// PeriodFailure is 1 − (1 − b/n)^Challenges.
func PeriodFailure(bad, total uint64) float64 {
	if total == 0 || bad == 0 {
		return 0
	}
	return 1 - math.Pow(1-float64(bad)/float64(total), Challenges)
}

// Config says how hard to look.
type Config struct {
	// Verify hashes each blob behind a subroot (sha256 against its
	// name); VerifyCommP computes its commP in the same read.
	Verify, VerifyCommP bool
	// Failures is how many of each set's last PDPProve failures to keep.
	Failures int
	// Judge, when set, says why a resolved subroot is at risk instead of
	// asking the store (a check that has listed and hashed every blob
	// already knows).
	Judge func(ctx context.Context, s *Subroot) (string, error)
}

// Pieces resolves piece CIDs to the blobs behind them: the commP table,
// read once (Piri keeps no index from piece to blob). A node of a
// million pieces costs ~150 MB here.
type Pieces map[string]pdpstate.Piece

// LoadPieces reads the commP table.
func LoadPieces(ctx context.Context, st *pdpstate.DB) (Pieces, error) {
	out := Pieces{}
	if err := st.Pieces(ctx, func(p pdpstate.Piece) bool { out[p.CID] = p; return true }); err != nil {
		return nil, fmt.Errorf("pdp state: %w", err)
	}
	return out, nil
}

// Adds counts each proof set's root adds: pending, and failed.
func Adds(ctx context.Context, st *pdpstate.DB) (map[int64][2]int, error) {
	adds := map[int64][2]int{}
	seen := map[string]bool{}
	err := st.RootAdds(ctx, func(a pdpstate.RootAdd) bool {
		key := fmt.Sprint(a.ProofSet, " ", a.Root)
		if !seen[key] {
			seen[key] = true
			c := adds[a.ProofSet]
			if a.Failed {
				c[1]++
			} else {
				c[0]++
			}
			adds[a.ProofSet] = c
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("pdp state: %w", err)
	}
	return adds, nil
}

// Run reads the state and the blobs behind it, and hands each set to
// emit with its subroots (in root, offset order).
func Run(ctx context.Context, st *pdpstate.DB, blobs blobstore.Store, cfg Config, emit func(Set, []Subroot) error) error {
	pieces, err := LoadPieces(ctx, st)
	if err != nil {
		return err
	}
	adds, err := Adds(ctx, st)
	if err != nil {
		return err
	}
	sets, err := st.ProofSets(ctx)
	if err != nil {
		return fmt.Errorf("pdp state: %w", err)
	}
	for _, ps := range sets {
		set, subs, err := Assess(ctx, st, blobs, pieces, ps, adds[ps.ID], cfg)
		if err != nil {
			return err
		}
		if err := emit(set, subs); err != nil {
			return err
		}
	}
	return nil
}

// Assess is one proof set's standing, adds its root adds' counts.
func Assess(ctx context.Context, st *pdpstate.DB, blobs blobstore.Store, pieces Pieces, ps pdpstate.ProofSet, adds [2]int, cfg Config) (Set, []Subroot, error) {
	set := Set{ProofSet: ps, PendingAdds: adds[0], FailedAdds: adds[1]}
	var subs []Subroot
	if err := st.Subroots(ctx, ps.ID, func(s pdpstate.Subroot) bool {
		subs = append(subs, Subroot{Subroot: s})
		return true
	}); err != nil {
		return Set{}, nil, fmt.Errorf("pdp state: proof set %d: %w", ps.ID, err)
	}
	set.BadOffsets = checkOffsets(subs)
	lastRoot := int64(-1)
	for i := range subs {
		s := &subs[i]
		if s.RootID != lastRoot {
			set.Roots++
			lastRoot = s.RootID
		}
		set.Subroots++
		set.Leaves += s.Size / LeafSize
		p, ok := pieces[s.Piece]
		if !ok {
			s.Risk = Unresolvable
		} else {
			s.Blob, s.BlobSize = p.Digest, p.Size
			if cfg.Judge != nil {
				s.Risk, s.Err = cfg.Judge(ctx, s)
			} else {
				s.Risk, s.Err = BlobRisk(ctx, blobs, s, cfg)
			}
		}
		if s.Risk != "" && s.Risk != Unreadable {
			set.AtRiskLeaves += s.Size / LeafSize
		}
	}
	set.FailureProbability = PeriodFailure(set.AtRiskLeaves, set.Leaves)
	if cfg.Failures > 0 {
		var err error
		if set.ProveFailures, err = st.ProveFailures(ctx, ps.ID, cfg.Failures); err != nil {
			return Set{}, nil, fmt.Errorf("pdp state: proof set %d: %w", ps.ID, err)
		}
	}
	return set, subs, nil
}

// checkOffsets names the roots whose subroots do not lie back to back
// from 0, or whose padded size (from the root's piece CID) is not the
// next power of two of their sum.
func checkOffsets(subs []Subroot) []string {
	var bad []string
	for i := 0; i < len(subs); {
		j, off := i, uint64(0)
		ok := true
		for ; j < len(subs) && subs[j].RootID == subs[i].RootID; j++ {
			if subs[j].Offset != off {
				ok = false
			}
			off += subs[j].Size
		}
		if ok {
			rc, err := cid.Decode(subs[i].Root)
			var padded uint64
			if err == nil {
				_, padded, err = piece.Sizes(rc)
			}
			ok = err == nil && padded == nextPow2(off)
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("root %d (%s)", subs[i].RootID, subs[i].Root))
		}
		i = j
	}
	return bad
}

func nextPow2(n uint64) uint64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

// BlobRisk is why the blob behind s fails a challenge ("": it does
// not), reading it once when asked to hash it.
func BlobRisk(ctx context.Context, blobs blobstore.Store, s *Subroot, cfg Config) (string, error) {
	info, err := blobs.Stat(ctx, s.Blob)
	if errors.Is(err, fs.ErrNotExist) {
		return Missing, nil
	}
	if err != nil {
		return Unreadable, err
	}
	if info.Size != s.BlobSize {
		return WrongSize, nil
	}
	if !cfg.Verify && !cfg.VerifyCommP {
		return "", nil
	}
	obj, err := blobs.Get(ctx, s.Blob)
	if err != nil {
		return Unreadable, err
	}
	defer obj.Close()
	h := sha256.New()
	var cp piece.Calc
	var w io.Writer = h
	if cfg.VerifyCommP {
		w = io.MultiWriter(h, &cp)
	}
	n, err := io.Copy(w, obj)
	if err != nil {
		return Unreadable, err
	}
	if n != s.BlobSize {
		return WrongSize, nil
	}
	if cfg.Verify {
		// Piri names blobs by sha2-256; another function is not judged.
		if d, err := mh.Decode(s.Blob); err == nil && d.Code == mh.SHA2_256 && string(d.Digest) != string(h.Sum(nil)) {
			return BadHash, nil
		}
	}
	if cfg.VerifyCommP {
		pc, _, err := cp.CID()
		if err != nil || pc.String() != s.Piece {
			return BadCommP, nil
		}
	}
	return "", nil
}
