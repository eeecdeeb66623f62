package aggregator_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/internal/testsupport/aggregator"
)

// The writer's bytes are Piri's: the golden datastore's values, encoded
// again from what they hold, come out the same.
func TestGolden(t *testing.T) {
	const dir = "../../../store/aggregator/testdata/"
	raw, err := os.ReadFile(dir + "expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Aggregates []struct {
			Root   string `json:"root"`
			Pieces []struct {
				Link  string   `json:"link"`
				Index uint64   `json:"index"`
				Path  []string `json:"path"`
			} `json:"pieces"`
		} `json:"aggregates"`
		BufferTotal uint64   `json:"buffer_total"`
		Buffer      []string `json:"buffer"`
		Submission  []string `json:"submission"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	f, err := os.Open(dir + "datastore.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if key, hx, ok := strings.Cut(sc.Text(), " "); ok && !strings.HasPrefix(key, "#") {
			want[key], _ = hex.DecodeString(hx)
		}
	}
	cids := func(ss []string) []cid.Cid {
		var out []cid.Cid
		for _, s := range ss {
			out = append(out, cid.MustParse(s))
		}
		return out
	}
	got := map[string][]byte{}
	for _, a := range ex.Aggregates {
		agg := aggregator.Aggregate{Root: cid.MustParse(a.Root)}
		for _, p := range a.Pieces {
			piece := aggregator.Piece{CID: cid.MustParse(p.Link), Index: p.Index}
			for _, n := range p.Path {
				b, _ := hex.DecodeString(n)
				piece.Path = append(piece.Path, b)
			}
			agg.Pieces = append(agg.Pieces, piece)
		}
		data, err := aggregator.EncodeAggregate(agg)
		if err != nil {
			t.Fatal(err)
		}
		got["/aggregates/"+a.Root] = data
	}
	var err2 error
	got["/workspace/buffer"], err2 = aggregator.EncodeBuffer(ex.BufferTotal, cids(ex.Buffer))
	if err2 != nil {
		t.Fatal(err2)
	}
	if got["/manager/aggregate_buffer"], err2 = aggregator.EncodeSubmission(cids(ex.Submission)); err2 != nil {
		t.Fatal(err2)
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys encoded, the golden has %d", len(got), len(want))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Errorf("%s:\n got %x\nwant %x", k, got[k], w)
		}
	}
}
