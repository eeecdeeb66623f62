package copy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	mh "github.com/multiformats/go-multihash"

	copyengine "github.com/storacha/storefs/engine/copy"
	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/delegationstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
)

// side is one node, its objectstores kept to look at keys.
type side struct {
	copyengine.Stores
	blobs    objectstore.Store
	receipts objectstore.Store
}

// newSide is a node laid out as backend b lays it out, in memory.
func newSide(b recordkind.Backend) side {
	enc := blobstore.KeyEncoder(blobstore.Datastore{})
	if b == recordkind.S3 {
		enc = blobstore.S3{}
	}
	objs := func() objectstore.Store {
		if b == recordkind.S3 {
			return memory.New()
		}
		return dsadapter.NewMemory()
	}
	s := side{blobs: objs(), receipts: objs()}
	s.Blobs = blobstore.New(s.blobs, enc)
	s.Stores.Stores = records.Stores{
		Allocations:    allocationstore.New(objs(), b),
		Acceptances:    acceptancestore.New(objs(), b),
		Consolidations: consolidationstore.New(objs(), b, nil),
		Delegations:    delegationstore.New(objs(), b),
		Receipts:       receiptstore.New(s.receipts, b),
	}
	return s
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// source is a LevelDB-laid-out node holding the sample set.
func source(t *testing.T) (side, *sample.Set, int64) {
	t.Helper()
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	src := newSide(recordkind.Datastore)
	ctx := context.Background()
	for digest, data := range set.Blobs {
		if err := src.Blobs.Put(ctx, mh.Multihash(digest), int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range set.Allocations {
		must(t, src.Allocations.Put(ctx, a.ID(), a))
	}
	for _, a := range set.Acceptances {
		must(t, src.Acceptances.Put(ctx, a.ID(), a))
	}
	for _, d := range set.Delegations {
		must(t, src.Delegations.Put(ctx, d.CID.String(), d))
	}
	for _, r := range set.Receipts {
		must(t, src.Receipts.Put(ctx, r))
	}
	for _, c := range set.Consolidations {
		must(t, src.Consolidations.Store.Put(ctx, c.Batch.String(), c))
	}
	objects := int64(len(set.Blobs) + len(set.Allocations) + len(set.Acceptances) + len(set.Delegations) +
		2*len(set.Receipts) + len(set.Consolidations)) // a receipt and its ran-index entry
	return src, set, objects
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, src, dst side, opts copyengine.Options) copyengine.Summary {
	t.Helper()
	opts.Log = quiet()
	sum, err := copyengine.Run(context.Background(), src.Stores, dst.Stores, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// A data dir's node copied to S3 lands whole, in S3's layout: every blob
// with its bytes, every record byte for byte, the ran index in S3's
// form. A second run finds everything there and copies nothing.
func TestCopyToS3Layout(t *testing.T) {
	ctx := context.Background()
	src, set, objects := source(t)
	dst := newSide(recordkind.S3)
	sum := run(t, src, dst, copyengine.Options{})
	if !sum.OK() || sum.Copied != objects || sum.Skipped != 0 || sum.Warnings != 0 {
		t.Fatalf("first run: %+v, want %d copied", sum, objects)
	}
	for digest, data := range set.Blobs {
		obj, err := dst.Blobs.Get(ctx, mh.Multihash(digest))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(obj)
		obj.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("blob %s: other bytes", blobstore.Name(mh.Multihash(digest)))
		}
		name := blobstore.Name(mh.Multihash(digest))
		if _, err := dst.blobs.Stat(ctx, blobstore.S3{}.Key(mh.Multihash(digest))); err != nil || !strings.Contains(blobstore.S3{}.Key(mh.Multihash(digest)), "/") {
			t.Errorf("blob %s not under its v0.2.4 S3 key: %v", name, err)
		}
	}
	for _, a := range set.Acceptances {
		want, _ := src.Acceptances.Raw(ctx, a.ID())
		got, err := dst.Acceptances.Raw(ctx, a.ID())
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("acceptance %s: %v", a.ID(), err)
		}
	}
	r := set.Receipts[0]
	if ref, err := dst.receipts.Stat(ctx, "receipts-ran/"+r.Ran.String()+".ref"); err != nil || ref.Size != int64(len(r.CID.String())) {
		t.Errorf("ran index entry in S3's form: %+v, %v", ref, err)
	}

	again := run(t, src, dst, copyengine.Options{})
	if !again.OK() || again.Copied != 0 || again.Skipped != objects {
		t.Fatalf("second run: %+v, want all %d skipped", again, objects)
	}
}

// A dry run counts what it would copy and writes nothing.
func TestDryRun(t *testing.T) {
	ctx := context.Background()
	src, _, objects := source(t)
	dst := newSide(recordkind.S3)
	sum := run(t, src, dst, copyengine.Options{DryRun: true})
	if !sum.DryRun || sum.Copied != objects || sum.Bytes == 0 {
		t.Fatalf("dry run: %+v", sum)
	}
	for _, err := range dst.blobs.List(ctx, "") {
		t.Fatalf("a dry run wrote a blob (%v)", err)
	}
	for _, err := range dst.receipts.List(ctx, "") {
		t.Fatalf("a dry run wrote a receipt (%v)", err)
	}
}

// Records alone, before their blobs: an allocation or acceptance whose
// blob the source has but the destination lacks is held back (a
// failure), the others are written; once the blobs are copied, a
// records run finishes the job.
func TestRecordsWaitForTheirBlobs(t *testing.T) {
	src, set, objects := source(t)
	dst := newSide(recordkind.S3)
	early := run(t, src, dst, copyengine.Options{Only: copyengine.Records})
	if early.Failed == 0 || early.OK() {
		t.Fatalf("records before blobs: %+v, want held records", early)
	}
	blobs := run(t, src, dst, copyengine.Options{Only: copyengine.Blobs})
	if blobs.Copied != int64(len(set.Blobs)) {
		t.Fatalf("blobs only: %+v", blobs)
	}
	late := run(t, src, dst, copyengine.Options{Only: copyengine.Records})
	if !late.OK() || late.Copied != early.Failed || late.Copied+late.Skipped != objects-int64(len(set.Blobs)) {
		t.Fatalf("records after blobs: %+v (held before: %d)", late, early.Failed)
	}
}

// Other bytes at the destination under a record's key are a conflict,
// left alone; --overwrite replaces them.
func TestConflicts(t *testing.T) {
	ctx := context.Background()
	src, set, _ := source(t)
	dst := newSide(recordkind.S3)
	run(t, src, dst, copyengine.Options{})
	d := set.Delegations[0]
	must(t, dst.Delegations.PutRaw(ctx, d.CID.String(), []byte("other bytes")))
	sum := run(t, src, dst, copyengine.Options{})
	if sum.Conflicts != 1 || sum.OK() {
		t.Fatalf("a changed record: %+v, want one conflict", sum)
	}
	if got, _ := dst.Delegations.Raw(ctx, d.CID.String()); string(got) != "other bytes" {
		t.Fatal("a conflict was overwritten")
	}
	sum = run(t, src, dst, copyengine.Options{Overwrite: true})
	want, _ := src.Delegations.Raw(ctx, d.CID.String())
	if got, _ := dst.Delegations.Raw(ctx, d.CID.String()); !sum.OK() || sum.Copied != 1 || !bytes.Equal(got, want) {
		t.Fatalf("--overwrite: %+v", sum)
	}
}

// A destination blob whose bytes rotted is found and copied again only
// when asked to verify what is there.
func TestVerifyExisting(t *testing.T) {
	ctx := context.Background()
	src, set, _ := source(t)
	dst := newSide(recordkind.S3)
	run(t, src, dst, copyengine.Options{Only: copyengine.Blobs})
	var digest mh.Multihash
	var data []byte
	for d, b := range set.Blobs {
		digest, data = mh.Multihash(d), b
		break
	}
	bad := bytes.Clone(data)
	bad[0] ^= 1
	key := blobstore.S3{}.Key(digest)
	must(t, dst.blobs.Put(ctx, key, int64(len(bad)), bytes.NewReader(bad)))
	if sum := run(t, src, dst, copyengine.Options{Only: copyengine.Blobs}); sum.Copied != 0 {
		t.Fatalf("without verify: %+v, want nothing copied", sum)
	}
	if sum := run(t, src, dst, copyengine.Options{Only: copyengine.Blobs, VerifyExisting: true}); sum.Copied != 1 || !sum.OK() {
		t.Fatalf("with verify: %+v, want the rotten blob copied again", sum)
	}
	if err := blobstore.Check(ctx, dst.Blobs, digest, nil); err != nil {
		t.Fatalf("after the copy: %v", err)
	}
}
