package check_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/delegationstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
	"github.com/storacha/storefs/store/retrievaljournal"
)

// testNode is an S3-layout node in memory, with the sample written to
// it, and its raw objects at hand for planting faults.
type testNode struct {
	blobObjects, receiptObjects objectstore.Store
	stores                      check.Stores
	set                         *sample.Set
}

func newTestNode(t *testing.T) *testNode {
	t.Helper()
	ctx := context.Background()
	n := &testNode{blobObjects: memory.New(), receiptObjects: dsadapter.NewMemory()}
	n.stores = check.Stores{
		Blobs: blobstore.New(n.blobObjects, blobstore.S3{}),
		Stores: records.Stores{
			Allocations:    allocationstore.New(dsadapter.NewMemory(), recordkind.Datastore),
			Acceptances:    acceptancestore.New(dsadapter.NewMemory(), recordkind.Datastore),
			Consolidations: consolidationstore.New(dsadapter.NewMemory(), recordkind.Datastore, nil),
			Delegations:    delegationstore.New(dsadapter.NewMemory(), recordkind.Datastore),
			Receipts:       receiptstore.New(n.receiptObjects, recordkind.Datastore),
		},
	}
	set, err := sample.New()
	must(t, err)
	n.set = set
	must(t, set.Write(ctx, &node.Stores{Blobs: n.stores.Blobs, Stores: n.stores.Stores}))
	dir := t.TempDir()
	must(t, set.WriteJournal(dir))
	n.stores.Journal, err = retrievaljournal.Open(dir)
	must(t, err)
	return n
}

func run(t *testing.T, st check.Stores, cfg check.Config) (check.Summary, []check.Finding) {
	t.Helper()
	var found []check.Finding
	if cfg.Now.IsZero() {
		cfg.Now = time.Unix(1764000000, 0)
	}
	sum, err := check.Run(context.Background(), st, cfg, func(f check.Finding) { found = append(found, f) })
	if err != nil {
		t.Fatal(err)
	}
	return sum, found
}

func TestCleanNode(t *testing.T) {
	n := newTestNode(t)
	sum, found := run(t, n.stores, check.Config{Verify: true})
	for _, f := range found {
		if f.Problem != "" {
			t.Errorf("a clean node: %+v", f)
		}
	}
	if sum.Failed() || sum.Blobs != int64(len(n.set.Blobs)) || sum.Verified != sum.Blobs {
		t.Fatalf("summary %+v", sum)
	}
	var bytes int64
	for _, b := range n.set.Blobs {
		bytes += int64(len(b))
	}
	if sum.Bytes != bytes {
		t.Errorf("bytes %d, want %d", sum.Bytes, bytes)
	}
	// The journal's batches, finished and in progress, are egress not
	// yet paid for.
	if sum.Info[check.UnconsolidatedBatch] != 2 {
		t.Errorf("info %v", sum.Info)
	}
	for kind, want := range map[string]int64{"allocations": 3, "acceptances": 3, "receipts": 6, "delegations": 1, "consolidations": 2, "receipts by-ran": 6} {
		if sum.Records[kind] != want {
			t.Errorf("%s: %d read, want %d (%v)", kind, sum.Records[kind], want, sum.Records)
		}
	}
}

func blob(t *testing.T, s string) (mh.Multihash, []byte) {
	t.Helper()
	data := []byte(s)
	d, err := mh.Sum(data, mh.SHA2_256, -1)
	must(t, err)
	return d, data
}

// records writes an allocation and an acceptance of digest for the
// sample's space, with the size they say.
func (n *testNode) records(t *testing.T, d mh.Multihash, size int64, accept bool, expires int64) {
	t.Helper()
	ctx := context.Background()
	cause := ipldutil.CBORCID([]byte("cause " + blobstore.Name(d)))
	al := allocationstore.Allocation{Space: sample.Space(), Digest: d, Size: size, Expires: expires, Cause: cause}
	must(t, n.stores.Allocations.Put(ctx, al.ID(), al))
	if accept {
		ac := acceptancestore.Acceptance{Space: sample.Space(), Digest: d, Size: size, ExecutedAt: 1764000000, Cause: cause}
		must(t, n.stores.Acceptances.Put(ctx, ac.ID(), ac))
	}
}

// TestEveryProblem plants one of each problem (and each kind of
// information) and finds each by name, on the blob or key planted.
func TestEveryProblem(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t)
	put := func(key string, data []byte) { must(t, objectstore.Put(ctx, n.blobObjects, key, data)) }
	later := int64(1764000000 + 86400)

	missing, missingData := blob(t, "accepted, never stored")
	n.records(t, missing, int64(len(missingData)), true, later)

	sized, sizedData := blob(t, "stored with the wrong size in its records")
	put(blobstore.S3{}.Key(sized), sizedData)
	n.records(t, sized, int64(len(sizedData))+1, true, later)

	corrupt, corruptData := blob(t, "bytes that rot")
	put(blobstore.S3{}.Key(corrupt), append(bytes.Clone(corruptData[:len(corruptData)-1]), 'X'))
	n.records(t, corrupt, int64(len(corruptData)), true, later)

	orphan, orphanData := blob(t, "nobody pays for me")
	put(blobstore.S3{}.Key(orphan), orphanData)

	legacy, legacyData := blob(t, "stored by Piri v0.2.3")
	put(blobstore.Name(legacy), legacyData)
	n.records(t, legacy, int64(len(legacyData)), true, later)

	twin, twinData := blob(t, "under both keys")
	put(blobstore.Name(twin), twinData)
	put(blobstore.S3{}.Key(twin), twinData)
	n.records(t, twin, int64(len(twinData)), true, later)

	pending, pendingData := blob(t, "allocated, upload under way")
	n.records(t, pending, int64(len(pendingData)), false, later)
	expired, expiredData := blob(t, "allocated long ago")
	n.records(t, expired, int64(len(expiredData)), false, 1700000000)

	ran := ipldutil.CBORCID([]byte("an invocation whose receipt is gone"))
	gone := ipldutil.CBORCID([]byte("a receipt never stored"))
	must(t, objectstore.Put(ctx, n.receiptObjects, "ranLinkIndex/"+ran.String(), gone.Bytes()))

	badDelegation := ipldutil.CBORCID([]byte("a delegation that rots"))
	must(t, n.stores.Delegations.PutRaw(ctx, badDelegation.String(), []byte("not a CAR")))

	sum, found := run(t, n.stores, check.Config{Verify: true, Jobs: 3})
	want := []string{ // name, then the blob or key it is about
		check.MissingBlob + " " + blobstore.Name(missing),
		check.SizeMismatch + " " + blobstore.Name(sized) + " acceptances",
		check.SizeMismatch + " " + blobstore.Name(sized) + " allocations",
		check.HashMismatch + " " + blobstore.Name(corrupt),
		check.OrphanBlob + " " + blobstore.Name(orphan),
		check.LegacyKey + " " + blobstore.Name(legacy),
		check.DanglingIndex + " by-ran/" + ran.String(),
		check.UndecodableRecord + " " + badDelegation.String(),
		check.BothKeys + " " + blobstore.Name(twin),
		check.PendingAllocation + " " + blobstore.Name(pending),
		check.ExpiredAllocation + " " + blobstore.Name(expired),
		check.UnconsolidatedBatch + " ", // the finished batch
		check.UnconsolidatedBatch + " ", // and the one in progress
	}
	var got []string
	for _, f := range found {
		s := f.Name() + " " + f.Blob
		if f.Blob == "" && f.Info != check.UnconsolidatedBatch {
			s += f.Key
		}
		if f.Problem == check.SizeMismatch {
			s += " " + f.Kind
		}
		got = append(got, s)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, name := range check.ProblemNames {
		if name == check.BadSlice {
			continue // needs a catalogued upload: TestUploadsAndSlices plants it
		}
		if slices.Contains([]string{check.ProofAtRisk, check.Unresolvable, check.BadRootOffsets, check.StuckRootAdd}, name) {
			continue // need PDP state: TestPDPProblems plants them
		}
		if slices.Contains([]string{check.DeadCommp, check.DeadAggregation, check.Unproven}, name) {
			continue // need the PDP pipeline: TestPipeline plants them
		}
		if sum.Problems[name] == 0 {
			t.Errorf("no %s counted: %v", name, sum.Problems)
		}
	}
	if sum.Blobs != int64(len(n.set.Blobs))+5 { // sized, corrupt, orphan, legacy, twin
		t.Errorf("%d blobs", sum.Blobs)
	}

	// Without --verify, bytes are not read: no hash-mismatch.
	sum, _ = run(t, n.stores, check.Config{})
	if sum.Problems[check.HashMismatch] != 0 || sum.Verified != 0 {
		t.Errorf("without verify: %+v", sum)
	}
}

// TestCorruptJournal: a batch that does not decode is an
// undecodable-record of kind egress; the rest is still checked.
func TestCorruptJournal(t *testing.T) {
	n := newTestNode(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "egress."+ipldutil.CBORCID([]byte("x")).String()+".car"), []byte("\x11garbage"), 0o644)
	var err error
	n.stores.Journal, err = retrievaljournal.Open(dir)
	must(t, err)
	sum, found := run(t, n.stores, check.Config{})
	if sum.Problems[check.UndecodableRecord] != 1 || len(found) != 1 || found[0].Kind != "egress" {
		t.Fatalf("%v %+v", sum.Problems, found)
	}
}

// failing fails every Get of a record store after the listing.
type failing struct{ objectstore.Store }

func (f failing) Get(context.Context, string, ...objectstore.GetOption) (objectstore.Object, error) {
	return nil, fmt.Errorf("connection reset")
}

// TestIncomplete: a read the check cannot do ends it with ErrIncomplete,
// never with a clean summary.
func TestIncomplete(t *testing.T) {
	n := newTestNode(t)
	objs := dsadapter.NewMemory()
	accs := acceptancestore.New(objs, recordkind.Datastore)
	for _, a := range n.set.Acceptances {
		must(t, accs.Put(context.Background(), a.ID(), a))
	}
	n.stores.Acceptances = acceptancestore.New(failing{objs}, recordkind.Datastore)
	_, err := check.Run(context.Background(), n.stores, check.Config{Jobs: 2}, func(check.Finding) {})
	if !errors.Is(err, check.ErrIncomplete) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = newTestNode(t)
	if _, err := check.Run(ctx, n.stores, check.Config{}, func(check.Finding) {}); !errors.Is(err, check.ErrIncomplete) {
		t.Fatalf("cancelled: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
