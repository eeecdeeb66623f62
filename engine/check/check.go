// Package check is the engine of `storefs check`: it checks a node's
// store the way a PDP challenge or an egress payment would find it:
// records joined against blobs, streamed, in memory bounded by a compact
// table of the stored blobs' digests (no decoded record is kept). It
// reads and never writes.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/digestset"
	"github.com/storacha/storefs/internal/helpers/pool"
	"github.com/storacha/storefs/internal/helpers/throttle"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/piece"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
	"github.com/storacha/storefs/store/retrievaljournal"
)

// Finding is one line of the report: a Problem or an Info.
type Finding struct {
	Problem string `json:"problem,omitempty"`
	Info    string `json:"info,omitempty"`
	Blob    string `json:"blob,omitempty"` // b32 name
	Kind    string `json:"kind,omitempty"` // record kind (allocations …, egress)
	Key     string `json:"key,omitempty"`  // record id, as the mount names it
	Space   string `json:"space,omitempty"`
	// Bytes is a size the finding is about: the stored blob's, or the
	// egress a batch records.
	Bytes  int64  `json:"bytes,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Name is the problem or info name.
func (f Finding) Name() string {
	if f.Problem != "" {
		return f.Problem
	}
	return f.Info
}

// Summary counts the findings and what was checked.
type Summary struct {
	Problems map[string]int `json:"problems"`
	Info     map[string]int `json:"info"`
	Blobs    int64          `json:"blobs"` // distinct stored blobs
	Bytes    int64          `json:"bytes"` // their bytes
	// Records counts the records read, by kind.
	Records map[string]int64 `json:"records"`
	// Verified counts the blobs re-hashed (--verify).
	Verified int64 `json:"verified,omitempty"`
	// PDP is each proof set's standing, with PDP state.
	PDP map[int64]PDPSet `json:"pdp,omitempty"`
}

// PDPSet is what check says of a proof set.
type PDPSet struct {
	Bytes              uint64  `json:"bytes"`
	AtRiskBytes        uint64  `json:"at_risk_bytes"`
	FailureProbability float64 `json:"period_failure_probability"`
}

// Failed says whether any problem was found.
func (s Summary) Failed() bool {
	for _, n := range s.Problems {
		if n > 0 {
			return true
		}
	}
	return false
}

// Stores are what a check reads.
type Stores struct {
	Blobs blobstore.Store
	records.Stores
	Journal *retrievaljournal.Journal // nil: none
}

// Config shapes a check.
type Config struct {
	// Verify re-hashes every blob.
	Verify bool
	// Jobs is how many reads run at once (records, index entries, blobs
	// under Verify): 4 when zero.
	Jobs int
	// BWLimit caps the bytes per second Verify reads (0: no cap), so a
	// live node keeps serving.
	BWLimit int64
	// Now is the time allocations expire against: time.Now when zero.
	Now time.Time
	// Catalog, when set, is the store's catalogue, refreshed: its
	// indexes give the upload and shard-elsewhere information, and under
	// Verify each slice of a shard is hashed as the shard is read.
	Catalog *catalog.Catalog
	// PDP, when set, is the node's PDP state: each proof set's subroots
	// are checked against the blobs (proof-at-risk, unresolvable-subroot,
	// bad-root-offsets, stuck-root-add).
	PDP *pdpstate.DB
	// VerifyCommP is Verify, and the commP of each blob behind a piece
	// computed in the same read.
	VerifyCommP bool
	// Aggregator, when set, opens the node's aggregator datastore, and
	// JobQueue is its job queues: with PDP, every blob accepted for PDP
	// is placed in the pipeline (too-small-for-pdp, awaiting-aggregation,
	// awaiting-root-add, dead-commp, dead-aggregation, unproven).
	Aggregator func() (*aggregator.DB, error)
	JobQueue   *jobqueue.DB
	// UnprovenAfter is how long after its acceptance a blob may be in no
	// proof and nowhere on its way before it is a problem: 24h when zero.
	UnprovenAfter time.Duration
	// Progress, when set, is told of Verify's progress: bytes hashed
	// of total.
	Progress func(done, total int64)
	Log      *slog.Logger
}

// ErrIncomplete is matched when the check could not read all it had to:
// its findings are partial.
var ErrIncomplete = errors.New("the check could not complete")

// Run checks the stores, handing each finding to emit as it is found.
// An error (matching ErrIncomplete) means the check did not complete.
func Run(ctx context.Context, st Stores, cfg Config, emit func(Finding)) (Summary, error) {
	if cfg.Jobs <= 0 {
		cfg.Jobs = 4
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Verify = cfg.Verify || cfg.VerifyCommP
	a := &auditor{st: st, cfg: cfg, emit: emit, accepted: newPairSet(),
		sum: Summary{Problems: map[string]int{}, Info: map[string]int{}, Records: map[string]int64{}}}
	for _, n := range ProblemNames {
		a.sum.Problems[n] = 0
	}
	for _, n := range InfoNames {
		a.sum.Info[n] = 0
	}
	// Steps that run beside the others end before Run returns, even
	// when a step fails: nothing is emitted after.
	defer a.bg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps := []func(context.Context) error{a.blobs, a.acceptances, a.allocations, a.orphans, a.receipts,
		a.delegations, a.consolidations, a.journal, a.uploads}
	switch {
	case cfg.PDP != nil:
		if cfg.UnprovenAfter <= 0 {
			a.cfg.UnprovenAfter = 24 * time.Hour
		}
		a.pipe = &pipeline{}
		steps = append(a.withProofs(ctx, steps), a.pipeline)
	case cfg.Verify:
		steps = append(steps, a.verify)
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w: %w", err, ctx.Err())
			}
			return a.sum, fmt.Errorf("%w: %w", ErrIncomplete, err)
		}
	}
	return a.sum, nil
}

type auditor struct {
	st       Stores
	cfg      Config
	emit     func(Finding)
	sum      Summary
	table    digestset.Table // the stored blobs
	accepted *pairSet
	foundMu  sync.Mutex
	bg       sync.WaitGroup // steps running beside the others
	pdpState
	pipe *pipeline // nil: no PDP state
}

// found reports a finding of the named type (a row of Types).
func (a *auditor) found(name string, f Finding) {
	a.foundMu.Lock() // the PDP step may run beside the others
	defer a.foundMu.Unlock()
	if TypeOf(name).Class == Problem {
		f.Problem = name
		a.sum.Problems[name]++
	} else {
		f.Info = name
		a.sum.Info[name]++
	}
	a.emit(f)
}

// blobs lists every key that holds a blob into the table, and reports
// the blobs only Piri v0.2.3 can find.
func (a *auditor) blobs(ctx context.Context) error {
	for info, err := range a.st.Blobs.ListKeys(ctx) {
		if err != nil {
			return err
		}
		key := keyCurrent
		if info.Layout == blobstore.LayoutV023 {
			key = keyLegacy
		}
		a.table.Add(info.Digest, info.Size, key)
	}
	a.table.Seal(foldKeys)
	for _, r := range a.table.Rows() {
		a.sum.Blobs++
		a.sum.Bytes += r.Size
		name := blobstore.Name(a.table.Digest(r))
		switch r.Flags {
		case keyLegacy:
			a.found(LegacyKey, Finding{Blob: name, Bytes: r.Size,
				Detail: fmt.Sprintf("stored only under the bare key %s (Piri v0.2.3); Piri v0.2.4 reads %s", name, blobstore.S3{}.Key(a.table.Digest(r)))})
		case keyCurrent | keyLegacy:
			a.found(BothKeys, Finding{Blob: name, Bytes: r.Size,
				Detail: fmt.Sprintf("stored under %s and the bare key %s", blobstore.S3{}.Key(a.table.Digest(r)), name)})
		}
	}
	return nil
}

// recordBlob is what an allocation and an acceptance say of their blob.
type recordBlob struct {
	space  string
	digest mh.Multihash
	size   int64
	// for allocations
	expires int64
	// for acceptances: a PDP proof promised, and when
	pdp        bool
	executedAt int64
}

func (a *auditor) acceptances(ctx context.Context) error {
	s := a.st.Acceptances
	if s == nil {
		return nil
	}
	get := func(ctx context.Context, e genericstore.Entry) (recordBlob, error) {
		r, err := s.Get(ctx, e.ID)
		return recordBlob{space: r.Space, digest: r.Digest, size: r.Size, pdp: r.PDPAccept != nil, executedAt: r.ExecutedAt}, err
	}
	err := pool.Each(ctx, a.cfg.Jobs, s.List(ctx, ""), get, func(e genericstore.Entry, r recordBlob, err error) error {
		id := e.ID
		if skip, err := a.recordErr(recordkind.Acceptances.Name, id, err); skip || err != nil {
			return err
		}
		if a.undecodable(recordkind.Acceptances.Name, id, r) {
			return nil
		}
		a.accepted.add(r.digest, r.space)
		if r.pdp && a.pipe != nil {
			a.pipe.accept(&a.table, r.digest, r.size, r.executedAt)
		}
		row := a.table.Find(r.digest)
		if row == nil {
			a.found(MissingBlob, Finding{Blob: blobstore.Name(r.digest), Kind: recordkind.Acceptances.Name, Key: id, Space: r.space,
				Detail: fmt.Sprintf("accepted (%d bytes) but not in the blob store: PDP challenges on it will fail", r.size)})
			return nil
		}
		row.Marks |= accepted
		if row.Size != r.size {
			a.found(SizeMismatch, Finding{Blob: blobstore.Name(r.digest), Kind: recordkind.Acceptances.Name, Key: id, Space: r.space, Bytes: row.Size,
				Detail: fmt.Sprintf("stored %d bytes, the acceptance says %d", row.Size, r.size)})
		}
		return nil
	})
	a.accepted.seal()
	return err
}

func (a *auditor) allocations(ctx context.Context) error {
	s := a.st.Allocations
	if s == nil {
		return nil
	}
	get := func(ctx context.Context, e genericstore.Entry) (recordBlob, error) {
		r, err := s.Get(ctx, e.ID)
		return recordBlob{space: r.Space, digest: r.Digest, size: r.Size, expires: r.Expires}, err
	}
	return pool.Each(ctx, a.cfg.Jobs, s.List(ctx, ""), get, func(e genericstore.Entry, r recordBlob, err error) error {
		id := e.ID
		if skip, err := a.recordErr(recordkind.Allocations.Name, id, err); skip || err != nil {
			return err
		}
		if a.undecodable(recordkind.Allocations.Name, id, r) {
			return nil
		}
		name := blobstore.Name(r.digest)
		if row := a.table.Find(r.digest); row != nil {
			row.Marks |= allocated
			if row.Size != r.size {
				a.found(SizeMismatch, Finding{Blob: name, Kind: recordkind.Allocations.Name, Key: id, Space: r.space, Bytes: row.Size,
					Detail: fmt.Sprintf("stored %d bytes, the allocation says %d", row.Size, r.size)})
			}
		}
		if a.accepted.has(r.digest, r.space) {
			return nil
		}
		expires := time.Unix(r.expires, 0).UTC()
		typ, f := PendingAllocation, Finding{Blob: name, Kind: recordkind.Allocations.Name, Key: id, Space: r.space, Bytes: r.size,
			Detail: fmt.Sprintf("allocated, not yet accepted; expires %s", expires.Format(time.RFC3339))}
		if !expires.After(a.cfg.Now) {
			typ = ExpiredAllocation
			f.Detail = fmt.Sprintf("allocated, never accepted; expired %s", expires.Format(time.RFC3339))
		}
		a.found(typ, f)
		return nil
	})
}

// byRan starts the key of a ran-index entry, as the mount names it.
const byRan = "by-ran/"

// recordErr sorts the error of reading one record: one that does not
// decode is reported; one gone since it was listed is skipped; any other
// stops the check (it cannot tell what the record holds).
func (a *auditor) recordErr(kind, id string, err error) (skip bool, stop error) {
	counter := kind
	if strings.HasPrefix(id, byRan) {
		counter = recordkind.Receipts.Name + " " + strings.TrimSuffix(byRan, "/")
	}
	switch {
	case err == nil:
		a.sum.Records[counter]++
		return false, nil
	case errors.Is(err, genericstore.ErrCorrupt):
		a.sum.Records[counter]++
		a.found(UndecodableRecord, Finding{Kind: kind, Key: id, Detail: err.Error()})
		return true, nil
	case errors.Is(err, objectstore.ErrNotExist):
		a.cfg.Log.Warn("a record went away while the check ran", "kind", kind, "key", id)
		return true, nil
	}
	return true, fmt.Errorf("read %s %s: %w", kind, id, err)
}

// undecodable reports a record whose key names another blob than its
// value: Piri looks records up by key.
func (a *auditor) undecodable(kind, id string, r recordBlob) bool {
	if name, _, ok := strings.Cut(id, "/"); ok && !strings.HasPrefix(id, genericstore.AtKey) {
		if d, err := blobstore.ParseName(name); err == nil && string(d) != string(r.digest) {
			a.found(UndecodableRecord, Finding{Kind: kind, Key: id, Space: r.space,
				Detail: fmt.Sprintf("stored under blob %s but is for blob %s", name, blobstore.Name(r.digest))})
			return true
		}
	}
	return false
}

// orphans are stored blobs no record names: bytes nobody pays for.
func (a *auditor) orphans(ctx context.Context) error {
	for _, r := range a.table.Rows() {
		if r.Marks == 0 {
			a.found(OrphanBlob, Finding{Blob: blobstore.Name(a.table.Digest(r)), Bytes: r.Size,
				Detail: fmt.Sprintf("%d bytes stored with neither an allocation nor an acceptance", r.Size)})
		}
	}
	return ctx.Err()
}

// receipts decodes every receipt, then checks that each ran-index entry
// leads to a stored receipt.
func (a *auditor) receipts(ctx context.Context) error {
	s := a.st.Receipts
	if s == nil {
		return nil
	}
	stored := newPairSet()
	get := func(ctx context.Context, e genericstore.Entry) (struct{}, error) {
		_, err := s.Get(ctx, e.ID)
		return struct{}{}, err
	}
	err := pool.Each(ctx, a.cfg.Jobs, s.List(ctx, ""), get, func(e genericstore.Entry, _ struct{}, err error) error {
		stored.add(nil, e.ID) // stored, even when it does not decode
		_, stop := a.recordErr(recordkind.Receipts.Name, e.ID, err)
		return stop
	})
	if err != nil {
		return err
	}
	stored.seal()
	return pool.Each(ctx, a.cfg.Jobs, s.ListRan(ctx), s.ByRan, func(ran, receipt string, err error) error {
		key := byRan + ran
		if skip, stop := a.recordErr(recordkind.Receipts.Name, key, err); skip || stop != nil {
			return stop
		}
		if !stored.has(nil, receipt) {
			a.found(DanglingIndex, Finding{Kind: recordkind.Receipts.Name, Key: key,
				Detail: fmt.Sprintf("the ran index points to receipt %s, which is not stored", receipt)})
		}
		return nil
	})
}

func (a *auditor) delegations(ctx context.Context) error {
	s := a.st.Delegations
	if s == nil {
		return nil
	}
	return a.decodeAll(ctx, recordkind.Delegations.Name, s.List(ctx, ""), func(ctx context.Context, e genericstore.Entry) (struct{}, error) {
		_, err := s.Get(ctx, e.ID)
		return struct{}{}, err
	})
}

func (a *auditor) consolidations(ctx context.Context) error {
	s := a.st.Consolidations
	if s == nil {
		return nil
	}
	return a.decodeAll(ctx, recordkind.Consolidations.Name, s.List(ctx), func(ctx context.Context, e genericstore.Entry) (struct{}, error) {
		_, err := s.Get(ctx, e.ID)
		return struct{}{}, err
	})
}

func (a *auditor) decodeAll(ctx context.Context, kind string, list iter.Seq2[genericstore.Entry, error], get func(context.Context, genericstore.Entry) (struct{}, error)) error {
	return pool.Each(ctx, a.cfg.Jobs, list, get, func(e genericstore.Entry, _ struct{}, err error) error {
		_, stop := a.recordErr(kind, e.ID, err)
		return stop
	})
}

// journal decodes every retrieval-journal batch and reports the egress
// not yet consolidated: every batch still in the journal (Piri removes a
// batch once its consolidation is confirmed), and the one in progress.
func (a *auditor) journal(ctx context.Context) error {
	j := a.st.Journal
	if j == nil {
		return nil
	}
	batches, err := j.Batches()
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		a.sum.Records["egress"]++
		key := b.CID.String()
		if b.IsWIP() {
			key = "wip"
		}
		data, err := j.Read(b)
		if err != nil && !errors.Is(err, retrievaljournal.ErrCorrupt) {
			return err
		}
		var receipts int
		var egress uint64
		for e, derr := range retrievaljournal.Entries(data) {
			if derr != nil {
				err = derr
				break
			}
			receipts++
			egress += e.Bytes()
		}
		if err != nil {
			a.found(UndecodableRecord, Finding{Kind: "egress", Key: key, Detail: fmt.Sprintf("%s: %v", b.Name, err)})
			continue
		}
		if receipts == 0 {
			continue
		}
		f := Finding{Kind: "egress", Key: key, Bytes: int64(egress)}
		switch {
		case b.IsWIP():
			f.Detail = fmt.Sprintf("batch in progress: %d receipts, %d bytes served, not yet sent", receipts, egress)
		case a.tracked(ctx, b.CID.String()):
			f.Detail = fmt.Sprintf("%d receipts, %d bytes served; sent for tracking, consolidation not yet confirmed", receipts, egress)
		default:
			f.Detail = fmt.Sprintf("%d receipts, %d bytes served; not yet sent for tracking", receipts, egress)
		}
		a.found(UnconsolidatedBatch, f)
	}
	return nil
}

// tracked says whether Piri sent the batch to the egress tracker: it
// keeps a consolidation record for it until the batch is paid for.
func (a *auditor) tracked(ctx context.Context, batch string) bool {
	if a.st.Consolidations == nil {
		return false
	}
	_, err := a.st.Consolidations.Get(ctx, batch)
	return err == nil || errors.Is(err, genericstore.ErrCorrupt)
}

// verify re-hashes every stored blob, Jobs at a time, within BWLimit. A
// blob that cannot be read is logged, the others are still hashed, and
// the check is incomplete.
func (a *auditor) verify(ctx context.Context) error {
	limit := throttle.New(a.cfg.BWLimit)
	var done atomic.Int64
	progress := func(n int) {
		d := done.Add(int64(n))
		if a.cfg.Progress != nil {
			a.cfg.Progress(d, a.sum.Bytes)
		}
	}
	rows := func(yield func(digestset.Row, error) bool) {
		for _, r := range a.table.Rows() {
			if !yield(r, nil) {
				return
			}
		}
	}
	type hashed struct {
		bad   []catalog.Slice
		commp string // the blob's piece CID, computed when it backs a piece (VerifyCommP)
	}
	hash := func(ctx context.Context, r digestset.Row) (hashed, error) {
		digest := a.table.Digest(r)
		slices, err := a.slicesOf(ctx, digest)
		if err != nil {
			return hashed{}, err
		}
		sc := newSliceCheck(slices)
		var w io.Writer = sc
		var cp *piece.Calc
		if a.cfg.VerifyCommP && a.isPiece(digest) {
			cp = &piece.Calc{}
			w = io.MultiWriter(sc, cp)
		}
		through := func(r io.Reader) io.Reader { return io.TeeReader(limit.Reader(ctx, r, progress), w) }
		err = blobstore.Check(ctx, a.st.Blobs, digest, through)
		if err != nil && !errors.Is(err, blobstore.ErrDigestMismatch) {
			return hashed{}, err
		}
		h := hashed{bad: sc.bad()}
		if cp != nil {
			if pc, _, cerr := cp.CID(); cerr == nil {
				h.commp = pc.String()
			}
		}
		return h, err
	}
	var unreadable []string
	err := pool.Each(ctx, a.cfg.Jobs, rows, hash, func(r digestset.Row, h hashed, err error) error {
		name := blobstore.Name(a.table.Digest(r))
		a.hashed(a.table.Digest(r), h.commp, errors.Is(err, blobstore.ErrDigestMismatch))
		for _, s := range h.bad {
			a.found(BadSlice, Finding{Blob: name, Bytes: int64(s.Length),
				Detail: fmt.Sprintf("block %s at [%d, +%d), by index %s: its bytes do not hash to it", blobstore.Name(s.Digest), s.Offset, s.Length, nameOrScan(s.Index))})
		}
		switch {
		case err == nil:
			a.sum.Verified++
		case errors.Is(err, blobstore.ErrDigestMismatch):
			a.sum.Verified++
			a.found(HashMismatch, Finding{Blob: name, Bytes: r.Size, Detail: "the stored bytes do not hash to the blob's multihash"})
		case errors.Is(err, objectstore.ErrNotExist):
			a.cfg.Log.Warn("a blob went away while the check ran", "blob", name)
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			unreadable = append(unreadable, name)
			a.cfg.Log.Error("a blob could not be read", "blob", name, "err", err)
		}
		return nil
	})
	if err == nil && len(unreadable) > 0 {
		err = fmt.Errorf("%d blobs could not be read (the first: %s)", len(unreadable), unreadable[0])
	}
	return err
}
