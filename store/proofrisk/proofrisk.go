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
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"slices"

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
	// PieceIndex is the piece's position in Pieces; -1 when unresolvable.
	PieceIndex int
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
// read once (Piri keeps no index from piece to blob), held as one sorted
// array of fixed-size records, ~90 bytes a piece (a map of strings took
// ~250): a node of a million pieces costs ~90 MB here.
type Pieces struct {
	recs []pieceRec
}

// pieceRec is one piece: the binary piece CID and the blob's multihash,
// each in a fixed array (piece CIDs v2 are 39-40 bytes, sha2-256
// multihashes 34), and the blob's size.
type pieceRec struct {
	key    [maxPieceCID]byte
	keyN   uint8
	digest [maxDigest]byte
	dN     uint8
	size   int64
}

const (
	maxPieceCID = 48
	maxDigest   = 40
)

// LoadPieces reads the commP table. A row whose piece CID or multihash
// does not fit the records (no Piri writes one) is left out, as if it were
// not there: its subroots are unresolvable.
func LoadPieces(ctx context.Context, st *pdpstate.DB) (Pieces, error) {
	var out Pieces
	err := st.Pieces(ctx, func(p pdpstate.Piece) bool {
		c, err := cid.Decode(p.CID)
		if err != nil || len(c.Bytes()) > maxPieceCID || len(p.Digest) > maxDigest {
			return true
		}
		var r pieceRec
		r.keyN = uint8(copy(r.key[:], c.Bytes()))
		r.dN = uint8(copy(r.digest[:], p.Digest))
		r.size = p.Size
		out.recs = append(out.recs, r)
		return true
	})
	if err != nil {
		return Pieces{}, fmt.Errorf("pdp state: %w", err)
	}
	slices.SortFunc(out.recs, func(a, b pieceRec) int { return bytes.Compare(a.key[:a.keyN], b.key[:b.keyN]) })
	out.recs = slices.Clip(out.recs)
	return out, nil
}

// Get is the blob behind a piece CID (as Piri writes it).
func (p Pieces) Get(pieceCID string) (pdpstate.Piece, bool) {
	i, ok := p.Index(pieceCID)
	if !ok {
		return pdpstate.Piece{}, false
	}
	return p.piece(i, pieceCID), true
}

// Index is the position of a piece among Len, by its CID.
func (p Pieces) Index(pieceCID string) (int, bool) {
	c, err := cid.Decode(pieceCID)
	if err != nil {
		return 0, false
	}
	key := c.Bytes()
	return slices.BinarySearchFunc(p.recs, key, func(r pieceRec, k []byte) int { return bytes.Compare(r.key[:r.keyN], k) })
}

// At is the piece at position i.
func (p Pieces) At(i int) pdpstate.Piece {
	r := &p.recs[i]
	c, _ := cid.Cast(r.key[:r.keyN])
	return p.piece(i, c.String())
}

func (p Pieces) piece(i int, pieceCID string) pdpstate.Piece {
	r := &p.recs[i]
	return pdpstate.Piece{Digest: mh.Multihash(bytes.Clone(r.digest[:r.dN])), Size: r.size, CID: pieceCID}
}

// ByDigest finds pieces by their blob: positions sorted by multihash
// (4 bytes a piece).
type ByDigest struct {
	p   Pieces
	pos []int32
}

// ByDigest indexes the pieces by blob.
func (p Pieces) ByDigest() ByDigest {
	pos := make([]int32, len(p.recs))
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortFunc(pos, func(a, b int32) int {
		ra, rb := &p.recs[a], &p.recs[b]
		return bytes.Compare(ra.digest[:ra.dN], rb.digest[:rb.dN])
	})
	return ByDigest{p: p, pos: pos}
}

// Find is the position of the piece of a blob.
func (b ByDigest) Find(digest []byte) (int, bool) {
	j, ok := slices.BinarySearchFunc(b.pos, digest, func(i int32, d []byte) int {
		r := &b.p.recs[i]
		return bytes.Compare(r.digest[:r.dN], d)
	})
	if !ok {
		return 0, false
	}
	return int(b.pos[j]), true
}

// Len is how many pieces there are.
func (p Pieces) Len() int { return len(p.recs) }

// Each yields every piece, in the order of their binary CIDs.
func (p Pieces) Each(yield func(pdpstate.Piece) bool) {
	for i := range p.recs {
		r := &p.recs[i]
		c, err := cid.Cast(r.key[:r.keyN])
		if err != nil {
			continue
		}
		if !yield(pdpstate.Piece{Digest: mh.Multihash(bytes.Clone(r.digest[:r.dN])), Size: r.size, CID: c.String()}) {
			return
		}
	}
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
// emit with its subroots at risk (in root, offset order).
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
		var risky []Subroot
		set, err := Assess(ctx, st, blobs, pieces, ps, adds[ps.ID], cfg, func(s Subroot) error {
			if s.Risk != "" {
				risky = append(risky, s)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := emit(set, risky); err != nil {
			return err
		}
	}
	return nil
}

// Assess is one proof set's standing, adds its root adds' counts. Each
// subroot is handed to each (when not nil) as it is judged, in root,
// offset order, and kept by nobody: a set of a million subroots costs no
// memory here.
func Assess(ctx context.Context, st *pdpstate.DB, blobs blobstore.Store, pieces Pieces, ps pdpstate.ProofSet, adds [2]int, cfg Config, each func(Subroot) error) (Set, error) {
	set := Set{ProofSet: ps, PendingAdds: adds[0], FailedAdds: adds[1]}
	offsets := offsetCheck{root: -1}
	lastRoot := int64(-1)
	var cbErr error
	err := st.Subroots(ctx, ps.ID, func(ss pdpstate.Subroot) bool {
		s := Subroot{Subroot: ss}
		if bad := offsets.next(ss); bad != "" {
			set.BadOffsets = append(set.BadOffsets, bad)
		}
		if s.RootID != lastRoot {
			set.Roots++
			lastRoot = s.RootID
		}
		set.Subroots++
		set.Leaves += s.Size / LeafSize
		i, ok := pieces.Index(s.Piece)
		if !ok {
			s.Risk, s.PieceIndex = Unresolvable, -1
		} else {
			p := pieces.piece(i, s.Piece)
			s.Blob, s.BlobSize, s.PieceIndex = p.Digest, p.Size, i
			if cfg.Judge != nil {
				s.Risk, s.Err = cfg.Judge(ctx, &s)
			} else {
				s.Risk, s.Err = BlobRisk(ctx, blobs, &s, cfg)
			}
		}
		if s.Risk != "" && s.Risk != Unreadable {
			set.AtRiskLeaves += s.Size / LeafSize
		}
		if each != nil {
			if cbErr = each(s); cbErr != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return Set{}, fmt.Errorf("pdp state: proof set %d: %w", ps.ID, err)
	}
	if cbErr != nil {
		return Set{}, cbErr
	}
	if bad := offsets.end(); bad != "" {
		set.BadOffsets = append(set.BadOffsets, bad)
	}
	set.FailureProbability = PeriodFailure(set.AtRiskLeaves, set.Leaves)
	if cfg.Failures > 0 {
		if set.ProveFailures, err = st.ProveFailures(ctx, ps.ID, cfg.Failures); err != nil {
			return Set{}, fmt.Errorf("pdp state: proof set %d: %w", ps.ID, err)
		}
	}
	return set, nil
}

// offsetCheck follows a set's subroots root by root: they must lie back
// to back from 0, and the root's padded size (from its piece CID) be the
// next power of two of their sum.
type offsetCheck struct {
	root    int64
	rootCID string
	off     uint64
	ok      bool
}

// next takes the next subroot; it names the root before it when that one
// was bad.
func (o *offsetCheck) next(s pdpstate.Subroot) string {
	var bad string
	if s.RootID != o.root {
		bad = o.end()
		o.root, o.rootCID, o.off, o.ok = s.RootID, s.Root, 0, true
	}
	if s.Offset != o.off {
		o.ok = false
	}
	o.off += s.Size
	return bad
}

// end judges the root under way.
func (o *offsetCheck) end() string {
	if o.root < 0 {
		return ""
	}
	if o.ok {
		rc, err := cid.Decode(o.rootCID)
		var padded uint64
		if err == nil {
			_, padded, err = piece.Sizes(rc)
		}
		o.ok = err == nil && padded == nextPow2(o.off)
	}
	bad := ""
	if !o.ok {
		bad = fmt.Sprintf("root %d (%s)", o.root, o.rootCID)
	}
	o.root = -1
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
