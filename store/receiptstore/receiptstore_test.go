package receiptstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/recordkind"
)

func read(t *testing.T, o objectstore.Store, key string) []byte {
	t.Helper()
	obj, err := o.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer obj.Close()
	b, _ := io.ReadAll(obj)
	return b
}

// A receipt is stored as Piri's CAR under its CID and indexed by the
// invocation it ran, in each backend's own layout: in LevelDB under
// "receipts/" with the index at "ranLinkIndex/<ran>" holding the binary
// CID; on S3 at "<CID>" with the index at "receipts-ran/<ran>.ref"
// holding the CID string.
func TestLayouts(t *testing.T) {
	ctx := context.Background()
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	r := set.Receipts[0]
	for _, c := range []struct {
		backend           recordkind.Backend
		receiptKey, index string
		ref               func(cid.Cid) []byte
	}{
		{recordkind.Datastore, "receipts/", "ranLinkIndex/%s", func(c cid.Cid) []byte { return c.Bytes() }},
		{recordkind.S3, "", "receipts-ran/%s.ref", func(c cid.Cid) []byte { return []byte(c.String()) }},
	} {
		objs := memory.New()
		s := receiptstore.New(objs, c.backend)
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got := read(t, objs, c.receiptKey+r.CID.String()); len(got) == 0 {
			t.Fatalf("backend %d: no receipt under its key", c.backend)
		}
		indexKey := strings.Replace(c.index, "%s", r.Ran.String(), 1)
		if got := read(t, objs, indexKey); !bytes.Equal(got, c.ref(r.CID)) {
			t.Errorf("backend %d: index entry %q, want %q", c.backend, got, c.ref(r.CID))
		}
		got, err := s.Get(ctx, r.CID.String())
		if err != nil || got.CID != r.CID || got.Ran != r.Ran {
			t.Fatalf("backend %d: get: %v", c.backend, err)
		}
		if byRan, err := s.ByRan(ctx, r.Ran.String()); err != nil || byRan != r.CID.String() {
			t.Errorf("backend %d: by ran %q, %v", c.backend, byRan, err)
		}
		var rans []string
		for ran, err := range s.ListRan(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			rans = append(rans, ran)
		}
		if !slices.Equal(rans, []string{r.Ran.String()}) {
			t.Errorf("backend %d: ran index lists %v", c.backend, rans)
		}
		// The index shares the namespace: it is not listed as a receipt.
		var ids []string
		for e, err := range s.List(ctx, "") {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{r.CID.String()}) {
			t.Errorf("backend %d: receipts listed %v", c.backend, ids)
		}
	}
}

// A receipt stored under another receipt's CID does not decode as it;
// a ran lookup of what is not a CID, or was never indexed, is not found;
// an index entry that is not a CID is corrupt.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	set, err := sample.New()
	if err != nil || len(set.Receipts) < 2 {
		t.Fatalf("sample: %v", err)
	}
	a, b := set.Receipts[0], set.Receipts[1]
	objs := memory.New()
	s := receiptstore.New(objs, recordkind.S3)
	data, err := receiptstore.Codec{}.Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRaw(ctx, b.CID.String(), data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.CID.String()); !errors.Is(err, genericstore.ErrCorrupt) {
		t.Errorf("a receipt under another's CID: %v, want ErrCorrupt", err)
	}
	for _, ran := range []string{"not-a-cid", a.Ran.String()} {
		if _, err := s.ByRan(ctx, ran); !errors.Is(err, objectstore.ErrNotExist) {
			t.Errorf("by ran %q: %v, want ErrNotExist", ran, err)
		}
	}
	if err := s.PutRan(ctx, "nope", a.CID.String()); err == nil {
		t.Error("an index entry for a ran that is not a CID")
	}
	bad := "garbage"
	if err := objs.Put(ctx, "receipts-ran/"+a.Ran.String()+".ref", int64(len(bad)), strings.NewReader(bad)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ByRan(ctx, a.Ran.String()); !errors.Is(err, genericstore.ErrCorrupt) {
		t.Errorf("a corrupt index entry: %v, want ErrCorrupt", err)
	}
}
