// Package pdppipeline says where a piece stands on its way into a proof
// set, one piece or aggregate at a time (storefs pdp piece, /pdp): from
// Piri's PDP state, its aggregator datastore and its job queues. (storefs
// check judges every blob at once, its own way: engine/check.)
package pdppipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdpstate"
)

// The states of an aggregate.
const (
	Added           = "added"             // a root of a proof set
	Adding          = "adding"            // its root add is not confirmed
	AddFailed       = "add-failed"        // its root add failed (piri client pdp proofset repair)
	AwaitingRootAdd = "awaiting-root-add" // in the manager's buffer, or its add_roots job queued
	AddDead         = "add-dead"          // its add_roots job was dead-lettered
	NotAdded        = "not-added"         // none of these: lost
)

// Queue is one task's jobs, each payload decoded once, by what it is
// for: a blob's multihash (as a string of its bytes) for compute_commp,
// a piece CID for aggregate_piece, an aggregate's piece CID for
// add_roots.
type Queue struct {
	Queued map[string]bool
	Dead   map[string]string // the dead job's error
	Count  JobCount
}

// JobCount is one task's jobs at a glance.
type JobCount struct {
	Queued    int    `json:"queued"`
	Dead      int    `json:"dead"`
	LastError string `json:"last_error,omitempty"` // of the newest dead job
	lastAt    int64
}

// Jobs are the pipeline's queues, by task.
type Jobs map[string]*Queue

// For is the queue of a task.
func (j Jobs) For(task string) *Queue { return j[task] }

// ReadJobs reads every job of the pipeline's queues once (q nil: the
// node has none, and they are empty).
func ReadJobs(ctx context.Context, q *jobqueue.DB) (Jobs, error) {
	jobs := Jobs{}
	for _, task := range []string{jobqueue.Commp, jobqueue.Aggregate, jobqueue.AddRoots} {
		jobs[task] = &Queue{Queued: map[string]bool{}, Dead: map[string]string{}}
	}
	if q == nil {
		return jobs, nil
	}
	var bad error
	err := q.Jobs(ctx, func(j jobqueue.Job) bool {
		queue := jobs[j.Task]
		if queue == nil {
			return true
		}
		var keys []string
		switch j.Task {
		case jobqueue.Commp:
			d, err := j.Blob()
			bad = err
			keys = []string{string(d)}
		case jobqueue.Aggregate:
			c, err := j.Piece()
			bad = err
			keys = []string{c.String()}
		case jobqueue.AddRoots:
			cs, err := j.Aggregates()
			bad = err
			for _, c := range cs {
				keys = append(keys, c.String())
			}
		}
		if bad != nil {
			return false
		}
		if !j.Dead {
			queue.Count.Queued++
			for _, k := range keys {
				queue.Queued[k] = true
			}
			return true
		}
		queue.Count.Dead++
		if at := j.At.UnixNano(); queue.Count.LastError == "" || at > queue.Count.lastAt {
			queue.Count.LastError, queue.Count.lastAt = j.Error, at
		}
		for _, k := range keys {
			queue.Dead[k] = j.Error
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, fmt.Errorf("job queues: %w", err)
	}
	return jobs, nil
}

// States is where every aggregate stands, read at once: the roots of
// proof sets, the root adds, the add_roots jobs and the manager's buffer.
type States struct {
	added      map[string][]pdpstate.RootRef
	adds       map[string]string // root → Adding or AddFailed
	jobs       *Queue            // add_roots
	submission map[string]bool
}

// ReadStates reads where every aggregate stands: submission is the
// manager's buffer.
func ReadStates(ctx context.Context, st *pdpstate.DB, jobs Jobs, submission []string) (*States, error) {
	s := &States{added: map[string][]pdpstate.RootRef{}, adds: map[string]string{}, jobs: jobs.For(jobqueue.AddRoots),
		submission: map[string]bool{}}
	for _, r := range submission {
		s.submission[r] = true
	}
	err := st.Roots(ctx, func(root string, ref pdpstate.RootRef) bool {
		s.added[root] = append(s.added[root], ref)
		return true
	})
	if err != nil {
		return nil, err
	}
	err = st.RootAdds(ctx, func(a pdpstate.RootAdd) bool {
		if a.Failed {
			s.adds[a.Root] = AddFailed
		} else if s.adds[a.Root] == "" {
			s.adds[a.Root] = Adding
		}
		return true
	})
	return s, err
}

// Of is where an aggregate stands, the roots it was added as, and the
// error of its dead add_roots job.
func (s *States) Of(root string) (string, []pdpstate.RootRef, string) {
	switch {
	case len(s.added[root]) > 0:
		return Added, s.added[root], ""
	case s.adds[root] != "":
		return s.adds[root], nil, ""
	case s.submission[root], s.jobs.Queued[root]:
		return AwaitingRootAdd, nil, ""
	}
	if e, ok := s.jobs.Dead[root]; ok {
		return AddDead, nil, e
	}
	return NotAdded, nil, ""
}

// Where is how far a piece got short of a proof set's root.
type Where struct {
	// Stage: commp-queued, commp-dead (the blob has no piece yet),
	// aggregate-queued, aggregate-dead, buffer, aggregate (with
	// Aggregate and AggregateState), or none; unknown while the running
	// node holds the aggregator's LevelDB.
	Stage          string `json:"stage"`
	Aggregate      string `json:"aggregate,omitempty"`
	AggregateState string `json:"aggregate_state,omitempty"`
	Offset         uint64 `json:"offset,omitempty"` // padded bytes into the aggregate
	Error          string `json:"error,omitempty"`
}

// Locate finds a piece (pieceCID; "" when the blob has none) of a blob
// (digest) outside proof set roots: in the queues, the aggregator's
// buffer, or an aggregate (every aggregate is read: one piece's query).
func Locate(ctx context.Context, st *pdpstate.DB, openAgg func() (*aggregator.DB, error), jobs Jobs, pieceCID string, digest []byte) (Where, error) {
	w := Where{Stage: "none"}
	stage := func(q *Queue, key, queued, dead string) {
		if e, ok := q.Dead[key]; ok {
			w.Stage, w.Error = dead, e
		}
		if q.Queued[key] {
			w.Stage, w.Error = queued, ""
		}
	}
	if pieceCID == "" {
		stage(jobs.For(jobqueue.Commp), string(digest), "commp-queued", "commp-dead")
	} else {
		stage(jobs.For(jobqueue.Aggregate), pieceCID, "aggregate-queued", "aggregate-dead")
	}
	if pieceCID == "" || openAgg == nil {
		return w, nil
	}
	db, err := openAgg()
	switch {
	case errors.Is(err, aggregator.ErrNone):
		return w, nil
	case errors.Is(err, aggregator.ErrLocked):
		if w.Stage == "none" {
			w.Stage, w.Error = "unknown", err.Error()
		}
		return w, nil
	case err != nil:
		return Where{}, err
	}
	defer db.Close()
	buf, err := db.Buffer(ctx)
	if err != nil {
		return Where{}, err
	}
	if slices.Contains(buf.Pieces, pieceCID) {
		w.Stage = "buffer"
		return w, nil
	}
	submission, err := db.Submission(ctx)
	if err != nil {
		return Where{}, err
	}
	var found *aggregator.Aggregate
	var index int
	err = db.Aggregates(ctx, func(a aggregator.Aggregate) bool {
		if i := slices.IndexFunc(a.Pieces, func(p aggregator.Piece) bool { return p.Piece == pieceCID }); i >= 0 {
			found, index = &a, i
			return false
		}
		return true
	})
	if err != nil || found == nil {
		return w, err
	}
	w.Stage, w.Aggregate = "aggregate", found.Root
	w.Offset, _ = found.Pieces[index].Offset()
	states, err := ReadStates(ctx, st, jobs, submission)
	if err != nil {
		return Where{}, err
	}
	w.AggregateState, _, w.Error = states.Of(found.Root)
	return w, nil
}

// Summary is the pipeline at a glance (storefs pdp status).
type Summary struct {
	// Aggregator: ok, none (no aggregator datastore), or locked (held by
	// the running node: the buffer and the aggregates are unknown).
	Aggregator string `json:"aggregator"`
	Buffer     struct {
		Pieces int    `json:"pieces"`
		Bytes  uint64 `json:"padded_bytes"`
	} `json:"buffer"`
	// AwaitingRootAdd are the aggregates in the manager's buffer or an
	// add_roots job, not yet in a proof set.
	AwaitingRootAdd []string `json:"awaiting_root_add"`
	// Jobs are the queues' jobs by task.
	Jobs map[string]*JobCount `json:"jobs"`
}

// Summarize reads the pipeline at a glance.
func Summarize(ctx context.Context, st *pdpstate.DB, openAgg func() (*aggregator.DB, error), jobs Jobs) (Summary, error) {
	s := Summary{Aggregator: "ok", AwaitingRootAdd: []string{}, Jobs: map[string]*JobCount{}}
	for task, q := range jobs {
		s.Jobs[task] = &q.Count
	}
	var submission []string
	db, err := openAgg()
	switch {
	case errors.Is(err, aggregator.ErrNone):
		s.Aggregator = "none"
	case errors.Is(err, aggregator.ErrLocked):
		s.Aggregator = "locked"
	case err != nil:
		return Summary{}, err
	default:
		defer db.Close()
		buf, err := db.Buffer(ctx)
		if err != nil {
			return Summary{}, err
		}
		s.Buffer.Pieces, s.Buffer.Bytes = len(buf.Pieces), buf.TotalSize
		if submission, err = db.Submission(ctx); err != nil {
			return Summary{}, err
		}
	}
	states, err := ReadStates(ctx, st, jobs, submission)
	if err != nil {
		return Summary{}, err
	}
	seen := map[string]bool{}
	for root := range states.submission {
		seen[root] = true
	}
	for root := range states.jobs.Queued {
		seen[root] = true
	}
	for root := range seen {
		if state, _, _ := states.Of(root); state == AwaitingRootAdd {
			s.AwaitingRootAdd = append(s.AwaitingRootAdd, root)
		}
	}
	slices.Sort(s.AwaitingRootAdd)
	return s, nil
}
