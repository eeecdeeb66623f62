package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/ucan"
)

func ids[T any](t *testing.T, s *genericstore.Store[T]) []string {
	t.Helper()
	var out []string
	for e, err := range s.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

func sameJSON(t *testing.T, what string, got, want interface{ JSON() ([]byte, error) }) {
	t.Helper()
	g, err := got.JSON()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	w, _ := want.JSON()
	if !bytes.Equal(g, w) {
		t.Errorf("%s: read back\n%s\nwant\n%s", what, g, w)
	}
}

// checkRecords reads everything the sample wrote, through a read-only open.
func checkRecords(t *testing.T, st *node.Stores, set *sample.Set) {
	ctx := context.Background()
	for digest, data := range set.Blobs {
		obj, err := st.Blobs.Get(ctx, mh.Multihash(digest))
		if err != nil {
			t.Fatal(err)
		}
		obj.Close()
		if obj.Size() != int64(len(data)) {
			t.Errorf("blob %s size %d", blobstore.Name(mh.Multihash(digest)), obj.Size())
		}
	}

	var want []string
	for _, a := range set.Allocations {
		want = append(want, a.ID())
		got, err := st.Allocations.Get(ctx, a.ID())
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "allocation "+a.ID(), got, a)
	}
	slices.Sort(want)
	if got := ids(t, st.Allocations); !slices.Equal(got, want) {
		t.Errorf("allocation ids %v, want %v", got, want)
	}
	// listing one blob's records asks only for that blob's prefix
	first := set.Allocations[0]
	var one []string
	for e, err := range st.Allocations.List(ctx, blobstore.Name(first.Digest)+"/") {
		if err != nil {
			t.Fatal(err)
		}
		one = append(one, e.ID)
	}
	if !slices.Equal(one, []string{first.ID()}) {
		t.Errorf("allocations of one blob: %v", one)
	}

	want = nil
	for _, a := range set.Acceptances {
		want = append(want, a.ID())
		got, err := st.Acceptances.Get(ctx, a.ID())
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "acceptance "+a.ID(), got, a)
	}
	slices.Sort(want)
	if got := ids(t, st.Acceptances); !slices.Equal(got, want) {
		t.Errorf("acceptance ids %v, want %v", got, want)
	}

	want = nil
	for _, d := range set.Delegations {
		want = append(want, d.CID.String())
		got, err := st.Delegations.Get(ctx, d.CID.String())
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "delegation", got, d)
		raw, _ := st.Delegations.Raw(ctx, d.CID.String())
		if archive, _ := ucan.EncodeDelegationArchive(d); !bytes.Equal(raw, archive) {
			t.Error("stored delegation archive differs from the encoder's")
		}
	}
	if got := ids(t, st.Delegations); !slices.Equal(got, want) {
		t.Errorf("delegation ids %v, want %v", got, want)
	}

	want = nil
	for _, r := range set.Receipts {
		want = append(want, r.CID.String())
		got, err := st.Receipts.Get(ctx, r.CID.String())
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "receipt", got, r)
		if err := got.Verify(); err != nil {
			t.Errorf("receipt %s signature: %v", r.CID, err)
		}
		byRan, err := st.Receipts.ByRan(ctx, r.Ran.String())
		if err != nil || byRan != r.CID.String() {
			t.Errorf("by ran %s: %s, %v", r.Ran, byRan, err)
		}
	}
	slices.Sort(want)
	if got := ids(t, st.Receipts.Store); !slices.Equal(got, want) {
		t.Errorf("receipt ids %v, want %v", got, want)
	}
	var rans []string
	for ran, err := range st.Receipts.ListRan(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		rans = append(rans, ran)
	}
	if len(rans) != len(set.Receipts) {
		t.Errorf("%d ran index entries, want %d", len(rans), len(set.Receipts))
	}

	want = nil
	legacySeen := false
	for _, c := range set.Consolidations {
		want = append(want, c.Batch.String())
		got, err := st.Consolidations.Get(ctx, c.Batch.String())
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "consolidation", got, c)
		legacySeen = legacySeen || got.Legacy
	}
	if legacySeen != st.Consolidations.HasLegacyForm() {
		t.Errorf("legacy consolidation read: %v, backend has the form: %v", legacySeen, st.Consolidations.HasLegacyForm())
	}
	slices.Sort(want)
	var got []string
	for e, err := range st.Consolidations.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("consolidation ids %v, want %v", got, want)
	}
}

func TestDataDirRecords(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	set, err := sample.Populate(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	before, err := treehash.Sum(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := node.Open(ctx, node.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Absent) != 0 {
		t.Errorf("absent stores: %v", r.Absent)
	}
	checkRecords(t, r, set)
	r.Close()
	after, _ := treehash.Sum(dir)
	if before != after {
		t.Fatal("reading the data dir changed it")
	}
}

func TestS3Records(t *testing.T) {
	srv := s3test.Start(t)
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := node.Config{S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "node-", Insecure: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}}
	w := cfg
	w.Writable = true
	ws, err := node.Open(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(ctx, ws); err != nil {
		t.Fatal(err)
	}
	before, _ := treehash.Sum(srv.DataDir)
	r, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, r, set)
	after, _ := treehash.Sum(srv.DataDir)
	if before != after {
		t.Fatal("reading the buckets changed them")
	}
	if testing.Verbose() {
		out, _ := exec.Command("find", srv.DataDir, "-type", "f").Output()
		t.Logf("bucket files:\n%s", out)
	}
	buckets, _ := srv.Client().ListBuckets(ctx)
	if len(buckets) != len(node.Buckets) {
		t.Errorf("buckets %v, want one per Piri store", buckets)
	}
}

// TestConsolidationJournal: a data dir of a node that ran Piri v0.2.2
// keeps consolidations in egress_tracker/journal/consolidation (split
// form); v0.2.3+ write consolidation/. Both are shown, each batch once;
// a batch in both is the current one's, with a log line.
// writeDataDir builds the sample and lets write put what a test needs
// into a new data dir, opened writable, then closed.
func writeDataDir(t *testing.T, write func(ctx context.Context, w *node.Stores, set *sample.Set)) (string, *sample.Set) {
	t.Helper()
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The old journal's LevelDB, which storefs opens where it is and never
	// makes: the legacy form is written there.
	must(t, os.MkdirAll(filepath.Join(dir, node.ConsolidationJournal), 0o755))
	w, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	write(context.Background(), w, set)
	w.Close()
	return dir, set
}

// openLogged opens a data dir read-only, as a mount does, with what the
// stores log kept for the test.
func openLogged(t *testing.T, dir string) (*node.Stores, *bytes.Buffer) {
	t.Helper()
	var logged bytes.Buffer
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	st, err := node.Open(context.Background(), node.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, &logged
}

func TestConsolidationJournal(t *testing.T) {
	ctx := context.Background()
	var current, stranded consolidationstore.Consolidation
	dir, _ := writeDataDir(t, func(ctx context.Context, w *node.Stores, set *sample.Set) {
		if len(set.Consolidations) < 2 {
			t.Fatal("the sample has too few consolidations")
		}
		current, stranded = set.Consolidations[0], set.Consolidations[1]
		both := current
		must(t, w.Consolidations.Put(ctx, current.Batch.String(), current))
		must(t, w.Consolidations.PutLegacy(ctx, stranded))
		must(t, w.Consolidations.PutLegacy(ctx, both)) // the same batch, also in the journal
	})
	if _, err := os.Stat(filepath.Join(dir, "egress_tracker", "journal", "consolidation", "CURRENT")); err != nil {
		t.Fatalf("the split form was not written where Piri v0.2.2 keeps it: %v", err)
	}

	st, logged := openLogged(t, dir)
	var got []string
	for e, err := range st.Consolidations.List(ctx) {
		must(t, err)
		got = append(got, e.ID)
	}
	slices.Sort(got)
	want := []string{current.Batch.String(), stranded.Batch.String()}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if c, err := st.Consolidations.Get(ctx, current.Batch.String()); err != nil || c.Legacy {
		t.Errorf("a batch in both: legacy %v, %v; want the current form", c.Legacy, err)
	}
	if c, err := st.Consolidations.Get(ctx, stranded.Batch.String()); err != nil || !c.Legacy {
		t.Errorf("a stranded batch: legacy %v, %v", c.Legacy, err)
	}
	if !strings.Contains(logged.String(), current.Batch.String()) {
		t.Errorf("no log line for the batch in both: %q", logged.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAllocationsKeyedByCause: Piri before v0.0.14 keyed allocations
// "/<digest>/<cause CID>", not "/<digest>/<space DID>"; they are shown
// under "<b32>/<cause CID>", next to those of the current form.
func TestAllocationsKeyedByCause(t *testing.T) {
	ctx := context.Background()
	var a allocationstore.Allocation
	var old string
	dir, _ := writeDataDir(t, func(ctx context.Context, w *node.Stores, set *sample.Set) {
		a = set.Allocations[0]
		raw, err := allocationstore.Codec{}.Encode(a)
		must(t, err)
		old = blobstore.Name(a.Digest) + "/" + a.Cause.String()
		must(t, w.Allocations.PutRaw(ctx, old, raw))
		must(t, w.Allocations.Put(ctx, a.ID(), a))
	})

	st, _ := openLogged(t, dir)
	got := ids(t, st.Allocations)
	want := []string{old, a.ID()}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	rec, err := st.Allocations.Get(ctx, old)
	if err != nil || rec.Space != a.Space || rec.Cause != a.Cause {
		t.Fatalf("the old-keyed allocation: %+v, %v", rec, err)
	}
	// Listed under its blob, as the mount's /allocations/<b32>/ does.
	var under []string
	for e, err := range st.Allocations.List(ctx, blobstore.Name(a.Digest)+"/") {
		must(t, err)
		under = append(under, e.ID)
	}
	if len(under) != 2 {
		t.Errorf("listed under the blob: %v, want both forms", under)
	}
}

// TestBlobStorageMinio opens a Piri ≤ v0.2.2 node through its config:
// records in the data dir, blobs under bare keys in the one bucket of
// [repo.blob_storage.minio].
func TestBlobStorageMinio(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	srv.MakeBucket("node-blobs")
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bucket := &node.Bucket{Endpoint: srv.Endpoint, Bucket: "node-blobs", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
	w, err := node.Open(ctx, node.Config{DataDir: dir, BlobBucket: bucket, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	must(t, set.Write(ctx, w))
	w.Close()
	if entries, _ := os.ReadDir(node.BlobDir(dir)); len(entries) != 0 {
		t.Fatalf("blobs went to the data dir: %v", entries)
	}

	cfg := fmt.Sprintf("[repo]\ndata_dir = %q\n[repo.blob_storage.minio]\nendpoint = %q\nbucket = \"node-blobs\"\ninsecure = true\n[repo.blob_storage.minio.credentials]\naccess_key_id = %q\nsecret_access_key = %q\n",
		dir, srv.Endpoint, s3test.AccessKey, s3test.SecretKey)
	path := filepath.Join(t.TempDir(), "config.toml")
	must(t, os.WriteFile(path, []byte(cfg), 0o600))
	c, err := node.LoadPiri(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := node.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	for info, err := range st.Blobs.List(ctx) {
		must(t, err)
		if info.Layout != blobstore.LayoutV022 || info.Key != blobstore.Name(info.Digest) {
			t.Errorf("blob %s: key %s, layout %s; want the bare key, v0.2.2", blobstore.Name(info.Digest), info.Key, info.Layout)
		}
		if _, ok := set.Blobs[string(info.Digest)]; !ok {
			t.Errorf("listed a blob the sample does not have: %s", blobstore.Name(info.Digest))
		}
		n++
	}
	if n != len(set.Blobs) {
		t.Errorf("listed %d blobs, want %d", n, len(set.Blobs))
	}
	if got := ids(t, st.Allocations); len(got) != len(set.Allocations) {
		t.Errorf("allocations from the data dir: %d, want %d", len(got), len(set.Allocations))
	}
}

// TestRecordsUnderOddKeys: a record is never dropped for the shape of its
// key. One that decodes is listed under "@" + its key and reads back;
// one that does not is left out; both are logged once. Keys of what
// else shares a store (the receipts' ran index) are skipped quietly.
func TestRecordsUnderOddKeys(t *testing.T) {
	ctx := context.Background()
	dir, set := writeDataDir(t, func(ctx context.Context, w *node.Stores, set *sample.Set) {
		must(t, set.Write(ctx, w))
		raw, err := allocationstore.Codec{}.Encode(set.Allocations[0])
		must(t, err)
		must(t, w.Allocations.PutRaw(ctx, "@odd/key/shape", raw))
		must(t, w.Allocations.PutRaw(ctx, "@garbage", []byte("not cbor")))
	})

	st, logged := openLogged(t, dir)
	got := ids(t, st.Allocations)
	if !slices.Contains(got, "@odd/key/shape") || slices.Contains(got, "@garbage") || len(got) != len(set.Allocations)+1 {
		t.Fatalf("listed %v", got)
	}
	rec, err := st.Allocations.Get(ctx, "@odd/key/shape")
	if err != nil || rec.Space != set.Allocations[0].Space {
		t.Fatalf("the odd-keyed record: %+v, %v", rec, err)
	}
	ids(t, st.Allocations) // listed again: logged once
	if n := strings.Count(logged.String(), "key=odd/key/shape"); n != 1 {
		t.Errorf("the odd key logged %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "key=garbage") {
		t.Errorf("the undecodable odd record was not logged:\n%s", logged.String())
	}
	if got := ids(t, st.Receipts.Store); len(got) != len(set.Receipts) || strings.Contains(logged.String(), "ranLinkIndex") {
		t.Errorf("receipts %d (want %d); the ran index was taken for odd keys:\n%s", len(got), len(set.Receipts), logged.String())
	}
}

// TestS3NodeKeepsLocalStores: a node whose records and blobs are in S3
// still keeps its local-only stores (wallet, retrieval journal) in its
// data dir; its config opens both.
func TestS3NodeKeepsLocalStores(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must(t, set.WriteDataDir(ctx, dir))
	cfg := fmt.Sprintf("[repo]\ndata_dir = %q\n[repo.s3]\nendpoint = %q\nbucket_prefix = \"local-\"\ninsecure = true\n[repo.s3.credentials]\naccess_key_id = %q\nsecret_access_key = %q\n",
		dir, srv.Endpoint, s3test.AccessKey, s3test.SecretKey)
	path := filepath.Join(t.TempDir(), "config.toml")
	must(t, os.WriteFile(path, []byte(cfg), 0o600))
	c, err := node.LoadPiri(path, func(string) string { return "" })
	must(t, err)
	c.Writable = true // create the buckets
	st, err := node.Open(ctx, c)
	must(t, err)
	defer st.Close()
	if st.Journal == nil {
		t.Fatal("the retrieval journal in the data dir of an S3 node was not opened")
	}
	batches, err := st.Journal.Batches()
	if err != nil || len(batches) != 2 {
		t.Fatalf("journal batches: %v, %v; want the sample's finished batch and its WIP", batches, err)
	}
}
