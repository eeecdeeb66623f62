package retrievaljournal_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/storacha/storefs/internal/fixtures"
	"github.com/storacha/storefs/internal/treehash"
	"github.com/storacha/storefs/store/local/retrievaljournal"
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
	for r, err := range j.Receipts(batches[0]) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
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
	for r, err := range j.Receipts(batches[1]) {
		t.Fatalf("empty wip batch yielded %v, %v", r, err)
	}

	// Encoding the receipts again gives the very same batch file and name.
	data, c, err := retrievaljournal.EncodeBatch(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, batch) || "egress."+c.String()+".car" != batchFile {
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
