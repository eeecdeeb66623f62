package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/storacha/storefs/internal/helpers/digestset"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdppipeline"
	"github.com/storacha/storefs/store/piece"
	"github.com/storacha/storefs/store/proofrisk"
)

// pipeline places every blob accepted for PDP in Piri's pipeline: commP
// (a job), the aggregator's buffer (or its queue), an aggregate, the
// manager's buffer (or its add_roots queue), a root add, a proof set's
// root. The proof step marks the pieces it meets in roots and root adds;
// the pipeline step, last, reads the aggregator and the queues and judges
// each blob.
type pipeline struct {
	// The blobs accepted for PDP: a stored one by its row in the blob
	// table, with when it was accepted (8 bytes a blob: a million take
	// 8 MB); one not stored (a missing-blob already) whole.
	rows    []uint32
	ats     []uint32 // executedAt, Unix seconds
	missing []pdpAccepted
	// stages is each piece's furthest stage, by its position in the
	// commP table (one byte a piece).
	stages []stage
	// roots are the aggregates in proof sets and root adds (piece CIDs):
	// their pieces are marked already, so they are not read again.
	roots map[string]bool
}

// pdpAccepted is an accepted blob as judged.
type pdpAccepted struct {
	digest     []byte
	size       int64
	executedAt int64 // Unix seconds
}

type stage uint8

// Stages, lowest first: a piece keeps the furthest it reached.
const (
	stageNone stage = iota
	stageDeadAggregation
	stageQueued   // the aggregator's queue, or its buffer
	stageAwaiting // an aggregate waiting to be added
	stageAdding   // a root add not confirmed
	stageStuck    // a root add that failed (stuck-root-add)
	stageProven   // a proof set's root
)

// accept notes a blob accepted for PDP (the acceptances step, one
// goroutine).
func (p *pipeline) accept(table *digestset.Table, digest []byte, size, executedAt int64) {
	at := uint32(min(max(executedAt, 0), math.MaxUint32))
	if i, ok := table.Index(digest); ok {
		if p.rows == nil {
			p.rows = make([]uint32, 0, table.Len())
			p.ats = make([]uint32, 0, table.Len())
		}
		p.rows, p.ats = append(p.rows, uint32(i)), append(p.ats, at)
		return
	}
	p.missing = append(p.missing, pdpAccepted{digest: bytes.Clone(digest), size: size, executedAt: int64(at)})
}

// each yields every blob accepted for PDP.
func (p *pipeline) each(table *digestset.Table, yield func(pdpAccepted)) {
	rows := table.Rows()
	for i, r := range p.rows {
		row := rows[r]
		yield(pdpAccepted{digest: table.Digest(row), size: row.Size, executedAt: int64(p.ats[i])})
	}
	for _, m := range p.missing {
		yield(m)
	}
}

// mark raises the stage of the piece at position i of the commP table.
func (p *pipeline) mark(pieces proofrisk.Pieces, i int, s stage) {
	if p.stages == nil {
		p.stages = make([]stage, pieces.Len())
	}
	if i >= 0 && p.stages[i] < s {
		p.stages[i] = s
	}
}

// markCID raises a piece's stage, by its CID.
func (p *pipeline) markCID(pieces proofrisk.Pieces, pieceCID string, s stage) {
	if i, ok := pieces.Index(pieceCID); ok {
		p.mark(pieces, i, s)
	}
}

// inRoot marks a subroot of a root (or of a root add) met by the proof
// step, its piece by position (-1: no commP row names it).
func (p *pipeline) inRoot(pieces proofrisk.Pieces, root string, i int, s stage) {
	if p == nil {
		return
	}
	if p.roots == nil {
		p.roots = map[string]bool{}
	}
	p.roots[root] = true
	p.mark(pieces, i, s)
}

// pipeline judges every blob accepted for PDP.
func (a *auditor) pipeline(ctx context.Context) error {
	p := a.pipe
	if len(p.rows)+len(p.missing) == 0 {
		return nil
	}
	if p.stages == nil {
		p.stages = make([]stage, a.pieces.Len())
	}
	jobs, err := pdppipeline.ReadJobs(ctx, a.cfg.JobQueue)
	if err != nil {
		return err
	}
	deadPieces := map[int]string{}
	for c, e := range jobs.For(jobqueue.Aggregate).Dead {
		if i, ok := a.pieces.Index(c); ok {
			p.mark(a.pieces, i, stageDeadAggregation)
			deadPieces[i] = e
		}
	}
	for c := range jobs.For(jobqueue.Aggregate).Queued {
		p.markCID(a.pieces, c, stageQueued)
	}
	known, err := a.aggregates(ctx, jobs.For(jobqueue.AddRoots), deadPieces)
	if err != nil {
		return err
	}
	unknown := 0
	p.each(&a.table, func(r pdpAccepted) {
		digest := r.digest
		// Most blobs are proven: a finding is made only for the others.
		finding := func() Finding {
			name := blobstore.Name(digest)
			return Finding{Kind: "pdp", Blob: name, Key: "accepted for PDP"}
		}
		if r.size < piece.MinSize {
			f := finding()
			f.Detail = fmt.Sprintf("%d bytes", r.size)
			a.found(TooSmallForPDP, f)
			return
		}
		i, ok := a.byDigest.Find(digest)
		if !ok {
			f := finding()
			commp := jobs.For(jobqueue.Commp)
			switch e, dead := commp.Dead[string(digest)]; {
			case dead:
				f.Detail = "commP job dead-lettered: " + e
				a.found(DeadCommp, f)
			case commp.Queued[string(digest)]:
				// its commP is on its way
			default:
				unknown += a.unproven(r, f, "no commP", known)
			}
			return
		}
		if st := p.stages[i]; st == stageProven || st == stageStuck {
			return
		}
		f := finding()
		f.Key = "piece " + a.pieces.At(i).CID
		switch p.stages[i] {
		case stageAdding, stageAwaiting:
			a.found(AwaitingRootAdd, f)
		case stageQueued:
			a.found(AwaitingAggregation, f)
		case stageDeadAggregation:
			f.Detail = deadPieces[i]
			a.found(DeadAggregation, f)
		default:
			unknown += a.unproven(r, f, "in no root, aggregate, buffer or queue", known)
		}
	})
	if unknown > 0 {
		a.found(PipelineUnknown, Finding{Kind: "pdp", Key: "aggregator datastore",
			Detail: fmt.Sprintf("%d blobs accepted for PDP are in no proof set root; the aggregator's LevelDB is locked, so where they are is unknown", unknown)})
	}
	return nil
}

// unproven reports a blob found nowhere in the pipeline: a problem once
// UnprovenAfter has passed since its acceptance, information before. It
// returns 1, reporting nothing, when the aggregator could not be read.
func (a *auditor) unproven(r pdpAccepted, f Finding, detail string, known bool) int {
	if !known {
		return 1
	}
	age := a.cfg.Now.Sub(time.Unix(r.executedAt, 0))
	f.Detail = fmt.Sprintf("%s; accepted %s ago", detail, humanAge(age))
	if age > a.cfg.UnprovenAfter {
		a.found(Unproven, f)
	} else {
		a.found(UnprovenRecent, f)
	}
	return 0
}

// aggregates marks the pieces of the aggregator's buffer, and of the
// aggregates not in a proof set yet, with how far they are. known is
// false when the aggregator's LevelDB is locked.
func (a *auditor) aggregates(ctx context.Context, adds *pdppipeline.Queue, deadPieces map[int]string) (known bool, err error) {
	if a.cfg.Aggregator == nil {
		return true, nil
	}
	db, err := a.cfg.Aggregator()
	switch {
	case errors.Is(err, aggregator.ErrNone):
		return true, nil
	case errors.Is(err, aggregator.ErrLocked):
		a.cfg.Log.Warn("the aggregator datastore is locked by the running node: blobs outside proof sets are not classified", "err", err)
		return false, nil
	case err != nil:
		return false, err
	}
	defer db.Close()
	p := a.pipe
	buf, err := db.Buffer(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range buf.Pieces {
		p.markCID(a.pieces, c, stageQueued)
	}
	submission, err := db.Submission(ctx)
	if err != nil {
		return false, err
	}
	waiting := map[string]bool{}
	for _, r := range submission {
		waiting[r] = true
	}
	// Only aggregates outside proof sets and root adds are read: the
	// proof step has marked the others' pieces.
	var pending []string
	err = db.Roots(ctx, func(root string) bool {
		if !p.roots[root] {
			pending = append(pending, root)
		}
		return true
	})
	if err != nil {
		return false, err
	}
	for _, root := range pending {
		agg, err := db.Aggregate(ctx, root)
		if err != nil {
			return false, err
		}
		s, e := stageNone, ""
		switch {
		case waiting[root] || adds.Queued[root]:
			s = stageAwaiting
		case adds.Dead[root] != "":
			s, e = stageDeadAggregation, "add_roots job for aggregate "+root+" dead-lettered: "+adds.Dead[root]
		}
		if s == stageNone {
			continue
		}
		for _, pc := range agg.Pieces {
			i, ok := a.pieces.Index(pc.Piece)
			if !ok {
				continue
			}
			p.mark(a.pieces, i, s)
			if s == stageDeadAggregation {
				deadPieces[i] = e
			}
		}
	}
	return true, nil
}

// humanAge words an age in days past two, else in hours and minutes.
func humanAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}
