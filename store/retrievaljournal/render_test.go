package retrievaljournal_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/store/retrievaljournal"
)

// TestRenderJSON: a finished batch renders with its CID and every
// receipt in journal order; the batch in progress with a null batch and
// no receipts; the same bytes every time.
func TestRenderJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, batchFile), fixtures.Read(t, "generated/"+batchFile), 0o644)
	os.WriteFile(filepath.Join(dir, retrievaljournal.WIP), fixtures.Read(t, "smelt_piri-0_egress.car.wip"), 0o644)
	j, err := retrievaljournal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := j.Batches()
	if err != nil || len(batches) != 2 {
		t.Fatalf("batches %+v, %v", batches, err)
	}
	type rendered struct {
		Batch    *string `json:"batch"`
		Receipts []struct {
			Receipt string          `json:"receipt"`
			Ran     string          `json:"ran"`
			OK      bool            `json:"ok"`
			Out     json.RawMessage `json:"out"`
		} `json:"receipts"`
	}
	render := func(i int) (rendered, []byte) {
		data, err := j.Read(batches[i])
		if err != nil {
			t.Fatal(err)
		}
		out, err := retrievaljournal.RenderJSON(batches[i], data)
		if err != nil {
			t.Fatal(err)
		}
		var r rendered
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("rendering is not JSON: %v\n%s", err, out)
		}
		return r, out
	}
	done, first := render(0)
	if done.Batch == nil || *done.Batch != batches[0].CID.String() {
		t.Errorf("batch %v, want %s", done.Batch, batches[0].CID)
	}
	data, _ := j.Read(batches[0])
	var order []string
	for e, err := range retrievaljournal.Entries(data) {
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, e.Receipt.CID.String())
	}
	var got []string
	for _, r := range done.Receipts {
		got = append(got, r.Receipt)
		if r.Ran == "" || len(r.Out) == 0 {
			t.Errorf("receipt %s rendered without ran or out", r.Receipt)
		}
	}
	if len(order) != 3 || !slices.Equal(got, order) {
		t.Errorf("receipts %v, want the journal's %v", got, order)
	}
	if _, again := render(0); string(again) != string(first) {
		t.Error("two renderings of one batch differ")
	}
	wip, _ := render(1)
	if wip.Batch != nil || wip.Receipts == nil || len(wip.Receipts) != 0 {
		t.Errorf("the batch in progress: %+v, want a null batch and []", wip)
	}
}
