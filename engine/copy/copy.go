// Package copy is the engine of `storefs copy`: it copies a node's store
// to another backend in Piri v0.2.4's own layouts: every blob, hashed as
// it streams, then every record byte for byte, each allocation and
// acceptance only once its blob has landed. It is idempotent: what the
// destination already holds is skipped, so a run cut short is finished
// by running it again.
package copy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/digestset"
	"github.com/storacha/storefs/internal/helpers/pool"
	"github.com/storacha/storefs/internal/helpers/throttle"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
)

// Stores are one side of a copy.
type Stores struct {
	Blobs blobstore.Store
	records.Stores
}

// What a run copies.
const (
	All     = ""
	Blobs   = "blobs"
	Records = "records"
)

// Options shape a run.
type Options struct {
	Only string // All, Blobs or Records
	// Jobs is how many objects are copied at once: 4 when zero.
	Jobs int
	// BWLimit caps the bytes per second read from the source (0: none).
	BWLimit int64
	// DryRun counts what would be copied and writes nothing.
	DryRun bool
	// VerifyExisting re-hashes blobs the destination already holds, and
	// copies again one whose bytes do not match.
	VerifyExisting bool
	// Overwrite replaces a destination record whose bytes differ, which
	// is otherwise a conflict.
	Overwrite bool
	Log       *slog.Logger
}

// Summary is what a run did. Objects are blobs, records and ran-index
// entries.
type Summary struct {
	Copied    int64   `json:"copied"`
	Skipped   int64   `json:"skipped"` // already at the destination
	Failed    int64   `json:"failed"`
	Conflicts int64   `json:"conflicts"`
	Warnings  int64   `json:"warnings"`
	Bytes     int64   `json:"bytes"` // copied (or, dry, to copy)
	Seconds   float64 `json:"seconds"`
	MiBps     float64 `json:"mib_per_second"`
	DryRun    bool    `json:"dry_run,omitempty"`
}

// OK says whether every object is at the destination (warnings allowed).
func (s Summary) OK() bool { return s.Failed == 0 && s.Conflicts == 0 }

// Progress is read while a run goes on.
type Progress struct {
	Objects, Bytes atomic.Int64 // done (copied or skipped)
	// Total bytes of the source's blobs, once the blob listing ended.
	TotalBytes atomic.Int64
	Phase      atomic.Value // string
}

// Run copies src to dst. Problems with single objects are logged and
// counted in the summary; an error means the run stopped early (a
// listing failed, the destination refused writes, the context ended).
func Run(ctx context.Context, src, dst Stores, opts Options, progress *Progress) (Summary, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if progress == nil {
		progress = &Progress{}
	}
	r := &run{src: src, dst: dst, opts: opts, p: progress, start: time.Now()}
	r.sum.DryRun = opts.DryRun
	r.limit = throttle.New(opts.BWLimit)
	err := r.run(ctx)
	r.sum.Seconds = time.Since(r.start).Seconds()
	if r.sum.Seconds > 0 {
		r.sum.MiBps = float64(r.sum.Bytes) / (1 << 20) / r.sum.Seconds
	}
	return r.sum, err
}

type run struct {
	src, dst Stores
	opts     Options
	p        *Progress
	sum      Summary
	limit    *throttle.Limit
	start    time.Time
	warnings atomic.Int64 // counted by workers, added to sum after each kind
}

func (r *run) run(ctx context.Context) error {
	if r.opts.Only != Records {
		r.p.Phase.Store("blobs")
		if err := r.blobs(ctx); err != nil {
			return err
		}
	}
	if r.opts.Only == Blobs {
		return nil
	}
	r.p.Phase.Store("records")
	landed, err := r.landed(ctx)
	if err != nil {
		return err
	}
	for _, k := range r.kinds() {
		if err := r.records(ctx, k, landed); err != nil {
			return err
		}
	}
	r.p.Phase.Store("ran index")
	return r.ranIndex(ctx)
}

// landed lists the blobs the destination holds where Piri v0.2.4 reads
// them (a v0.2.3 bare key does not count).
func (r *run) landed(ctx context.Context) (*digestset.Table, error) {
	t := &digestset.Table{}
	for info, err := range r.dst.Blobs.ListKeys(ctx) {
		if err != nil {
			return nil, fmt.Errorf("list the destination's blobs: %w", err)
		}
		if info.Layout != blobstore.LayoutV023 {
			t.Add(info.Digest, info.Size, 0)
		}
	}
	t.Seal(nil)
	return t, nil
}

// blobs copies every source blob the destination lacks.
func (r *run) blobs(ctx context.Context) error {
	have, err := r.landed(ctx)
	if err != nil {
		return err
	}
	var total int64
	list := func(yield func(blobstore.Info, error) bool) {
		for info, err := range r.src.Blobs.List(ctx) {
			if err != nil {
				yield(info, fmt.Errorf("list the source's blobs: %w", err))
				return
			}
			total += info.Size
			if !yield(info, nil) {
				return
			}
		}
		r.p.TotalBytes.Store(total)
	}
	type outcome struct {
		skipped bool
		bytes   int64
	}
	copyBlob := func(ctx context.Context, info blobstore.Info) (outcome, error) {
		if row := have.Find(info.Digest); row != nil && row.Size == info.Size {
			if !r.opts.VerifyExisting {
				return outcome{skipped: true}, nil
			}
			through := func(src io.Reader) io.Reader { return r.reader(ctx, src) }
			if err := blobstore.Check(ctx, r.dst.Blobs, info.Digest, through); err == nil {
				return outcome{skipped: true}, nil
			} else if !errors.Is(err, blobstore.ErrDigestMismatch) {
				return outcome{}, err
			}
			r.opts.Log.Warn("the destination's copy of a blob does not match its multihash: copying it again", "blob", blobstore.Name(info.Digest))
		}
		if r.opts.DryRun {
			return outcome{bytes: info.Size}, nil
		}
		obj, err := r.src.Blobs.Get(ctx, info.Digest)
		if err != nil {
			return outcome{}, err
		}
		defer obj.Close()
		if err := r.dst.Blobs.Put(ctx, info.Digest, info.Size, r.reader(ctx, obj)); err != nil {
			return outcome{}, err
		}
		return outcome{bytes: info.Size}, nil
	}
	return pool.Each(ctx, r.opts.Jobs, list, copyBlob, func(info blobstore.Info, o outcome, err error) error {
		name := blobstore.Name(info.Digest)
		r.p.Objects.Add(1)
		switch {
		case err == nil && o.skipped:
			r.sum.Skipped++
			r.p.Bytes.Add(info.Size)
		case err == nil:
			r.sum.Copied++
			r.sum.Bytes += o.bytes
		case errors.Is(err, blobstore.ErrDigestMismatch):
			r.sum.Failed++
			r.opts.Log.Error("a source blob does not match its multihash: not copied", "blob", name, "key", info.Key)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, objectstore.ErrNotExist):
			r.sum.Warnings++
			r.opts.Log.Warn("a source blob went away while the copy ran", "blob", name)
		default:
			r.sum.Failed++
			r.opts.Log.Error("a blob could not be copied", "blob", name, "err", err)
		}
		return nil
	})
}

// reader passes a source stream through the bandwidth limit, counting
// its bytes as progress.
func (r *run) reader(ctx context.Context, src io.Reader) io.Reader {
	return r.limit.Reader(ctx, src, func(n int) { r.p.Bytes.Add(int64(n)) })
}

// kind is one kind of record, as a copy sees it.
type kind struct {
	name string
	list func(context.Context) iter.Seq2[genericstore.Entry, error]
	// raw reads a source record in the form Piri v0.2.4 writes (a split
	// consolidation comes out as one record).
	raw    func(context.Context, string) ([]byte, error)
	decode func(id string, data []byte) error
	// blob is the blob an allocation or acceptance is about; nil for
	// other kinds.
	blob   func(id string) mh.Multihash
	dstRaw func(context.Context, string) ([]byte, error)
	put    func(context.Context, string, []byte) error
}

// generic describes a kind kept in a genericstore on both sides.
func generic[T any](name string, src, dst *genericstore.Store[T]) kind {
	return kind{name: name,
		list:   func(ctx context.Context) iter.Seq2[genericstore.Entry, error] { return src.List(ctx, "") },
		raw:    src.Raw,
		decode: func(id string, data []byte) error { _, err := src.Decode(id, data); return err },
		dstRaw: dst.Raw,
		put:    dst.PutRaw,
	}
}

// digestSpaceBlob is the blob of an allocation or acceptance: from its
// id "<b32>/<space or cause>", which is how Piri finds it.
func digestSpaceBlob(id string) mh.Multihash {
	name, _, _ := strings.Cut(id, "/")
	d, err := blobstore.ParseName(name)
	if err != nil {
		return nil
	}
	return d
}

func (r *run) kinds() []kind {
	var out []kind
	s, d := r.src.Stores, r.dst.Stores
	if s.Allocations != nil && d.Allocations != nil {
		k := generic(recordkind.Allocations.Name, s.Allocations, d.Allocations)
		k.blob = digestSpaceBlob
		out = append(out, k)
	}
	if s.Acceptances != nil && d.Acceptances != nil {
		k := generic(recordkind.Acceptances.Name, s.Acceptances, d.Acceptances)
		k.blob = digestSpaceBlob
		out = append(out, k)
	}
	if s.Delegations != nil && d.Delegations != nil {
		out = append(out, generic(recordkind.Delegations.Name, s.Delegations, d.Delegations))
	}
	if s.Receipts != nil && d.Receipts != nil {
		out = append(out, generic(recordkind.Receipts.Name, s.Receipts.Store, d.Receipts.Store))
	}
	if s.Consolidations != nil && d.Consolidations != nil {
		k := generic(recordkind.Consolidations.Name, s.Consolidations.Store, d.Consolidations.Store)
		k.list = s.Consolidations.List
		k.raw = s.Consolidations.Raw // both forms, as one record
		out = append(out, k)
	}
	return out
}

// hold says whether a record about digest waits: its blob has not
// landed at the destination though the source has it. A record about a
// blob the source never had is written (an acceptance with a warning:
// check calls it missing-blob).
func (r *run) hold(ctx context.Context, landed *digestset.Table, kind, id string, digest mh.Multihash) (bool, error) {
	if landed.Find(digest) != nil {
		return false, nil
	}
	_, err := r.src.Blobs.Stat(ctx, digest)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, objectstore.ErrNotExist):
		return false, err
	}
	if kind == recordkind.Acceptances.Name {
		r.opts.Log.Warn("an acceptance of a blob the source does not store (check: missing-blob): copied as it is", "key", id)
		r.warnings.Add(1)
	}
	return false, nil
}

// recordOutcome is what became of one record.
type recordOutcome int

const (
	copied recordOutcome = iota
	skipped
	conflict
	held // its blob is not at the destination
)

// records copies one kind.
func (r *run) records(ctx context.Context, k kind, landed *digestset.Table) error {
	type result struct {
		outcome recordOutcome
		bytes   int64
		warning error
	}
	copyRecord := func(ctx context.Context, e genericstore.Entry) (result, error) {
		data, err := k.raw(ctx, e.ID)
		if err != nil {
			return result{}, err
		}
		var res result
		if err := k.decode(e.ID, data); err != nil {
			res.warning = err
		}
		if k.blob != nil && !r.opts.DryRun { // a dry run's blobs would have landed
			if d := k.blob(e.ID); d != nil {
				if wait, err := r.hold(ctx, landed, k.name, e.ID, d); err != nil || wait {
					res.outcome = held
					return res, err
				}
			}
		}
		have, err := k.dstRaw(ctx, e.ID)
		switch {
		case err == nil && bytes.Equal(have, data):
			res.outcome = skipped
			return res, nil
		case err == nil && !r.opts.Overwrite:
			res.outcome = conflict
			return res, nil
		case err != nil && !errors.Is(err, objectstore.ErrNotExist) && !errors.Is(err, genericstore.ErrCorrupt):
			return res, err
		}
		res.bytes = int64(len(data))
		if r.opts.DryRun {
			return res, nil
		}
		return res, k.put(ctx, e.ID, data)
	}
	err := pool.Each(ctx, r.opts.Jobs, k.list(ctx), copyRecord, func(e genericstore.Entry, res result, err error) error {
		r.p.Objects.Add(1)
		if res.warning != nil {
			r.sum.Warnings++
			r.opts.Log.Warn("a record does not decode: copied as it is", "kind", k.name, "key", e.ID, "err", res.warning)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, objectstore.ErrNotExist):
			r.sum.Warnings++
			r.opts.Log.Warn("a record went away while the copy ran", "kind", k.name, "key", e.ID)
		case err != nil:
			r.sum.Failed++
			r.opts.Log.Error("a record could not be copied", "kind", k.name, "key", e.ID, "err", err)
		case res.outcome == skipped:
			r.sum.Skipped++
		case res.outcome == conflict:
			r.sum.Conflicts++
			r.opts.Log.Error("the destination holds other bytes under this record's key: left alone (--overwrite replaces it)", "kind", k.name, "key", e.ID)
		case res.outcome == held:
			r.sum.Failed++
			r.opts.Log.Error("its blob is not at the destination: record not written", "kind", k.name, "key", e.ID)
		default:
			r.sum.Copied++
			r.sum.Bytes += res.bytes
		}
		return nil
	})
	r.sum.Warnings += r.warnings.Swap(0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", k.name, err)
	}
	return nil
}

// ranIndex copies the receipts' index by invocation, writing each entry
// in the destination's own form.
func (r *run) ranIndex(ctx context.Context) error {
	s, d := r.src.Receipts, r.dst.Receipts
	if s == nil || d == nil {
		return nil
	}
	type result struct {
		receipt string
		outcome recordOutcome
	}
	copyEntry := func(ctx context.Context, ran string) (result, error) {
		receipt, err := s.ByRan(ctx, ran)
		if err != nil {
			return result{}, err
		}
		have, err := d.ByRan(ctx, ran)
		switch {
		case err == nil && have == receipt:
			return result{receipt, skipped}, nil
		case err == nil && !r.opts.Overwrite:
			return result{receipt, conflict}, nil
		case err != nil && !errors.Is(err, objectstore.ErrNotExist) && !errors.Is(err, genericstore.ErrCorrupt):
			return result{}, err
		}
		if r.opts.DryRun {
			return result{receipt, copied}, nil
		}
		return result{receipt, copied}, d.PutRan(ctx, ran, receipt)
	}
	err := pool.Each(ctx, r.opts.Jobs, s.ListRan(ctx), copyEntry, func(ran string, res result, err error) error {
		r.p.Objects.Add(1)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, genericstore.ErrCorrupt):
			r.sum.Warnings++
			r.opts.Log.Warn("a ran-index entry does not decode: not copied", "ran", ran, "err", err)
		case errors.Is(err, objectstore.ErrNotExist):
			r.sum.Warnings++
		case err != nil:
			r.sum.Failed++
			r.opts.Log.Error("a ran-index entry could not be copied", "ran", ran, "err", err)
		case res.outcome == skipped:
			r.sum.Skipped++
		case res.outcome == conflict:
			r.sum.Conflicts++
			r.opts.Log.Error("the destination's ran index points elsewhere: left alone (--overwrite replaces it)", "ran", ran, "receipt", res.receipt)
		default:
			r.sum.Copied++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy the ran index: %w", err)
	}
	return nil
}
