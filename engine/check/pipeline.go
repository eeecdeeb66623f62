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

// mark raises a piece's stage to s.
func (p *pipeline) mark(pieces proofrisk.Pieces, pieceCID string, s stage) {
	if p.stages == nil {
		p.stages = make([]stage, pieces.Len())
	}
	if i, ok := pieces.Index(pieceCID); ok && p.stages[i] < s {
		p.stages[i] = s
	}
}

// inRoot marks a subroot of a root (or of a root add) met by the proof step.
func (p *pipeline) inRoot(pieces proofrisk.Pieces, root, pieceCID string, s stage) {
	if p == nil {
		return
	}
	if p.roots == nil {
		p.roots = map[string]bool{}
	}
	p.roots[root] = true
	p.mark(pieces, pieceCID, s)
}

// jobs is what the queues hold of the pipeline.
type jobs struct {
	commpQueued  map[string]bool   // string(digest)
	commpDead    map[string]string // string(digest) → error
	pieceDead    map[string]string // piece CID → error
	aggQueued    map[string]bool   // aggregate piece CID
	aggDead      map[string]string // aggregate piece CID → error
	piecesQueued []string
}

func readJobs(ctx context.Context, q *jobqueue.DB) (jobs, error) {
	j := jobs{commpQueued: map[string]bool{}, commpDead: map[string]string{}, pieceDead: map[string]string{},
		aggQueued: map[string]bool{}, aggDead: map[string]string{}}
	if q == nil {
		return j, nil
	}
	var bad error
	err := q.Jobs(ctx, func(job jobqueue.Job) bool {
		switch job.Task {
		case jobqueue.Commp:
			d, err := job.Blob()
			if err != nil {
				bad = err
				return false
			}
			if job.Dead {
				j.commpDead[string(d)] = job.Error
			} else {
				j.commpQueued[string(d)] = true
			}
		case jobqueue.Aggregate:
			c, err := job.Piece()
			if err != nil {
				bad = err
				return false
			}
			if job.Dead {
				j.pieceDead[c.String()] = job.Error
			} else {
				j.piecesQueued = append(j.piecesQueued, c.String())
			}
		case jobqueue.AddRoots:
			cs, err := job.Aggregates()
			if err != nil {
				bad = err
				return false
			}
			for _, c := range cs {
				if job.Dead {
					j.aggDead[c.String()] = job.Error
				} else {
					j.aggQueued[c.String()] = true
				}
			}
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return jobs{}, fmt.Errorf("job queues: %w", err)
	}
	return j, nil
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
	j, err := readJobs(ctx, a.cfg.JobQueue)
	if err != nil {
		return err
	}
	deadPieces := map[int]string{}
	for c, e := range j.pieceDead {
		if i, ok := a.pieces.Index(c); ok {
			if p.stages[i] < stageDeadAggregation {
				p.stages[i] = stageDeadAggregation
			}
			deadPieces[i] = e
		}
	}
	for _, c := range j.piecesQueued {
		p.mark(a.pieces, c, stageQueued)
	}
	known, err := a.aggregates(ctx, j, deadPieces)
	if err != nil {
		return err
	}
	byDigest := a.pieces.ByDigest()
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
		i, ok := byDigest.Find(digest)
		if !ok {
			f := finding()
			switch e, dead := j.commpDead[string(digest)]; {
			case dead:
				f.Detail = "commP job dead-lettered: " + e
				a.found(DeadCommp, f)
			case j.commpQueued[string(digest)]:
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
func (a *auditor) aggregates(ctx context.Context, j jobs, deadPieces map[int]string) (known bool, err error) {
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
		p.mark(a.pieces, c, stageQueued)
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
		case waiting[root] || j.aggQueued[root]:
			s = stageAwaiting
		case j.aggDead[root] != "":
			s, e = stageDeadAggregation, "add_roots job for aggregate "+root+" dead-lettered: "+j.aggDead[root]
		}
		if s == stageNone {
			continue
		}
		for _, pc := range agg.Pieces {
			i, ok := a.pieces.Index(pc.Piece)
			if !ok {
				continue
			}
			if p.stages[i] < s {
				p.stages[i] = s
			}
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
