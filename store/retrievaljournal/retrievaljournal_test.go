package retrievaljournal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/retrievaljournal"
	"github.com/storacha/storefs/store/ucan"
)

const batchFile = "egress.bagbaierahcvt3z72af26e4l4hlxfrdnpvlztoonha754areqp7agtsdqvvwq.car"

func TestJournalFromFixtures(t *testing.T) {
	dir := t.TempDir()
	batch := fixtures.Read(t, "generated/"+batchFile)
	wip := fixtures.Read(t, "smelt_piri-0_egress.car.wip")
	os.WriteFile(filepath.Join(dir, batchFile), batch, 0o644)
	os.WriteFile(filepath.Join(dir, retrievaljournal.WIP), wip, 0o644)
	before, _ := treehash.Sum(dir)

	j, err := retrievaljournal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := j.Batches()
	if err != nil || len(batches) != 2 || batches[0].Name != batchFile || batches[1].Name != retrievaljournal.WIP {
		t.Fatalf("batches %+v, %v", batches, err)
	}
	if batches[0].CID.String() != "bagbaierahcvt3z72af26e4l4hlxfrdnpvlztoonha754areqp7agtsdqvvwq" {
		t.Fatalf("batch cid %s", batches[0].CID)
	}
	var got []*ucan.Receipt
	var c cid.Cid
	data, err := j.Read(batches[0])
	if err != nil || !bytes.Equal(data, batch) {
		t.Fatalf("read %d bytes, %v", len(data), err)
	}
	for e, err := range retrievaljournal.Entries(data) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Receipt)
	}
	want := []string{
		"bafyreibl67tvjaoqtaavedcy23mttzk6ii7kjrzeyuhs2bukrcbslndg4a",
		"bafyreiea4yiqedqwx6ys2uohnne3vl5pf3zht2ybvt6yaakr3md2kbhupu",
		"bafyreigaquodlvxcidxmgjweiynybi2et5n4ipjg7ei7xdbc7jrcarc3d4",
	}
	if len(got) != len(want) {
		t.Fatalf("%d receipts, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.CID.String()] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("receipt %s missing", w)
		}
	}
	data, err = j.Read(batches[1])
	if err != nil {
		t.Fatal(err)
	}
	for r, err := range retrievaljournal.Entries(data) {
		t.Fatalf("empty wip batch yielded %v, %v", r, err)
	}

	// Encoding the receipts again gives the very same batch file and name.
	data, c, err = retrievaljournal.EncodeBatch(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, batch) || "egress."+c.String()+".car" != batchFile || retrievaljournal.BatchName(data) != batchFile {
		t.Errorf("re-encoded batch differs (cid %s)", c)
	}
	if empty, _, _ := retrievaljournal.EncodeBatch(nil); !bytes.Equal(empty, wip) {
		t.Errorf("empty batch %x, want %x", empty, wip)
	}
	after, _ := treehash.Sum(dir)
	if before != after {
		t.Fatal("reading the journal changed it")
	}
}

// TestWIPSnapshot: Piri appends to the batch in progress while it is
// read; a reader sees whole sections only, however the file is cut.
func TestWIPSnapshot(t *testing.T) {
	batch := fixtures.Read(t, "generated/"+batchFile)
	dir := t.TempDir()
	j, err := retrievaljournal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	whole := map[int]int{} // prefix length -> sections in it
	for cut := 0; cut <= len(batch); cut++ {
		if err := os.WriteFile(filepath.Join(dir, retrievaljournal.WIP), batch[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := j.Batch(retrievaljournal.WIP)
		if err != nil {
			t.Fatal(err)
		}
		data, err := j.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, err := range retrievaljournal.Entries(data) {
			if err != nil {
				t.Fatalf("cut at %d: snapshot of %d bytes: %v", cut, len(data), err)
			}
			n++
		}
		whole[len(data)] = n
	}
	// The header alone, then each of the three sections.
	if len(whole) != 5 || whole[len(batch)] != 3 {
		t.Fatalf("snapshots %v", whole)
	}
}

// TestCorruptBatch: a flipped byte anywhere in a batch is an error that
// matches ErrCorrupt, never a wrong receipt.
func TestCorruptBatch(t *testing.T) {
	batch := fixtures.Read(t, "generated/"+batchFile)
	for i := 0; i < len(batch); i += 7 {
		bad := bytes.Clone(batch)
		bad[i] ^= 0x40
		n, failed := 0, false
		for _, err := range retrievaljournal.Entries(bad) {
			if err != nil {
				if !errors.Is(err, retrievaljournal.ErrCorrupt) {
					t.Fatalf("byte %d: %v does not match ErrCorrupt", i, err)
				}
				failed = true
				break
			}
			n++
		}
		if !failed {
			t.Fatalf("byte %d flipped: %d receipts and no error", i, n)
		}
	}
}
