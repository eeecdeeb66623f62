package check_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	leveldb "github.com/ipfs/go-ds-leveldb"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/helpers/sample"
	aggwriter "github.com/storacha/storefs/internal/testsupport/aggregator"
	jobwriter "github.com/storacha/storefs/internal/testsupport/jobqueue"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/objectstore"
	reader "github.com/storacha/storefs/store/pdpstate"
)

// TestPipeline places a blob at each step of Piri's PDP pipeline, and one
// lost at each place a blob can fall out, and finds each.
func TestPipeline(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1764000000, 0)
	n := newTestNode(t)
	dir := t.TempDir()
	w, err := pdpstate.Create(dir)
	must(t, err)
	agg, err := aggwriter.Create(dir)
	must(t, err)
	jobs, err := jobwriter.Create(dir)
	must(t, err)

	const (
		proven = iota
		submitted
		adding
		buffered
		queued
		deadPiece
		deadCommp
		commpQueued
		tooSmall
		lostOld
		lostRecent
		noCommpOld
		deadAdd
		count
	)
	var ps []pdpstate.Piece
	for i := range count {
		size := 3000 + 500*i
		if i == tooSmall {
			size = 100
		}
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(150 + i)}).Read(data)
		must(t, objectstore.Put(ctx, n.blobObjects, blobstore.S3{}.Key(mustDigest(data)), data))
		var p pdpstate.Piece
		if i == tooSmall {
			p = pdpstate.Piece{Digest: mustDigest(data), Size: int64(size)}
		} else {
			p, err = pdpstate.PieceOf(data)
			must(t, err)
		}
		ps = append(ps, p)
		executed := now.Add(-48 * time.Hour)
		if i == lostRecent {
			executed = now.Add(-time.Hour)
		}
		cause := ipldutil.CBORCID([]byte("cause " + blobstore.Name(p.Digest)))
		ac := acceptancestore.Acceptance{Space: sample.Space(), Digest: p.Digest, Size: int64(size), ExecutedAt: executed.Unix(), Cause: cause,
			PDPAccept: &acceptancestore.Promise{Selector: ".out.ok", Link: cause}}
		must(t, n.stores.Acceptances.Put(ctx, ac.ID(), ac))
		if i != deadCommp && i != commpQueued && i != tooSmall && i != noCommpOld {
			must(t, w.AddPiece(p))
		}
	}
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 1}))
	_, _, err = w.AddRoot(1, 0, ps[proven:proven+1])
	must(t, err)
	_, err = w.AddRootAdd(1, ps[adding:adding+1], nil)
	must(t, err)
	aggregate := func(p pdpstate.Piece, seed string) cid.Cid {
		subs, padded := pdpstate.Layout([]pdpstate.Piece{p})
		root := pdpstate.RootCID(padded, seed)
		must(t, agg.PutAggregate(aggwriter.FromLayout(root, padded, subs)))
		return root
	}
	must(t, agg.SetSubmission([]cid.Cid{aggregate(ps[submitted], "submitted")}))
	must(t, agg.SetBuffer(ps[buffered:buffered+1]))
	dead := aggregate(ps[deadAdd], "dead add")
	aggregate(ps[lostOld], "built, then lost") // an aggregate nothing will add
	payload := func(b []byte, err error) []byte { must(t, err); return b }
	must(t, jobs.Add(jobqueue.Aggregate, payload(jobwriter.PiecePayload(ps[queued].CID)), now, 0, nil))
	must(t, jobs.Add(jobqueue.Aggregate, payload(jobwriter.PiecePayload(ps[deadPiece].CID)), now, 50, &jobwriter.Dead{Reason: "max_retries", Error: "aggregating: boom"}))
	must(t, jobs.Add(jobqueue.Commp, payload(jobwriter.CommpPayload(ps[deadCommp].Digest)), now, 50, &jobwriter.Dead{Reason: "max_retries", Error: "reading blob: gone"}))
	must(t, jobs.Add(jobqueue.Commp, payload(jobwriter.CommpPayload(ps[commpQueued].Digest)), now, 1, nil))
	must(t, jobs.Add(jobqueue.AddRoots, payload(jobwriter.AddRootsPayload([]cid.Cid{dead})), now, 50, &jobwriter.Dead{Reason: "max_retries", Error: "adding roots: no proof set"}))
	must(t, w.Close())
	must(t, agg.Close())
	must(t, jobs.Close())
	db, err := reader.Open(dir)
	must(t, err)
	defer db.Close()
	q, err := jobqueue.Open(dir)
	must(t, err)
	defer q.Close()
	cfg := check.Config{PDP: db, JobQueue: q, Now: now, Aggregator: func() (*aggregator.DB, error) { return aggregator.Open(dir) }}

	findings := func(cfg check.Config) []string {
		_, found := run(t, n.stores, cfg)
		var got []string
		for _, f := range found {
			// The sample node's own PDP acceptances are left out.
			if f.Kind == "pdp" && (f.Blob == "" || slices.ContainsFunc(ps, func(p pdpstate.Piece) bool { return blobstore.Name(p.Digest) == f.Blob })) {
				got = append(got, f.Name()+" "+f.Blob)
			}
		}
		slices.Sort(got)
		return got
	}
	name := func(i int) string { return blobstore.Name(ps[i].Digest) }
	want := []string{
		check.AwaitingRootAdd + " " + name(submitted),
		check.AwaitingRootAdd + " " + name(adding),
		check.AwaitingAggregation + " " + name(buffered),
		check.AwaitingAggregation + " " + name(queued),
		check.DeadAggregation + " " + name(deadPiece),
		check.DeadAggregation + " " + name(deadAdd),
		check.DeadCommp + " " + name(deadCommp),
		check.TooSmallForPDP + " " + name(tooSmall),
		check.Unproven + " " + name(lostOld),
		check.UnprovenRecent + " " + name(lostRecent),
		check.Unproven + " " + name(noCommpOld),
	}
	slices.Sort(want)
	if got := findings(cfg); !slices.Equal(got, want) {
		t.Fatalf("pipeline findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	_, found := run(t, n.stores, cfg)
	for _, f := range found {
		if f.Problem == check.DeadCommp && !strings.Contains(f.Detail, "reading blob: gone") ||
			f.Problem == check.DeadAggregation && !strings.Contains(f.Detail, "boom") && !strings.Contains(f.Detail, "no proof set") {
			t.Errorf("%s does not say the job's error: %q", f.Problem, f.Detail)
		}
	}

	// --unproven-after longer than both: neither lost blob is a problem yet.
	long := cfg
	long.UnprovenAfter = 72 * time.Hour
	if got := findings(long); slices.Contains(got, check.Unproven+" "+name(lostOld)) || !slices.Contains(got, check.UnprovenRecent+" "+name(lostOld)) {
		t.Errorf("with --unproven-after 72h: %v", got)
	}

	// While the node holds the aggregator, where the lost blobs are is
	// unknown: said once, not guessed.
	held, err := leveldb.NewDatastore(aggregator.Dir(dir), nil)
	must(t, err)
	defer held.Close()
	got := findings(cfg)
	if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, check.Unproven) }) ||
		!slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, check.PipelineUnknown) }) {
		t.Errorf("with the aggregator locked: %v", got)
	}
}

func mustDigest(data []byte) []byte {
	d, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return d
}
