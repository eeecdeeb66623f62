package genericstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
)

// note is a record whose bytes are "note:<text>"; anything else does not
// decode. Decode checks the id it is given against the text when the text
// names one, as codecs whose identity lives in the key do.
type note struct{ text string }

type noteCodec struct{}

func (noteCodec) Encode(n note) ([]byte, error) {
	if n.text == "unencodable" {
		return nil, errors.New("cannot encode that")
	}
	return []byte("note:" + n.text), nil
}

func (noteCodec) Decode(id string, data []byte) (note, error) {
	text, ok := strings.CutPrefix(string(data), "note:")
	if !ok {
		return note{}, fmt.Errorf("not a note: %q", data)
	}
	return note{text}, nil
}

func cidOf(s string) string {
	d, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagCBOR, d).String()
}

func newStore(keys genericstore.Keys) (*genericstore.Store[note], *memory.Store) {
	objs := memory.New()
	return genericstore.New("notes", objs, noteCodec{}, keys), objs
}

func ids(t *testing.T, s *genericstore.Store[note], prefix string) []string {
	t.Helper()
	var out []string
	for e, err := range s.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

// Put, Get, Raw, Exists and Delete go through the key scheme, and a
// record's bytes come back as they were stored.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, objs := newStore(genericstore.CIDKeys{Prefix: "notes/", Suffix: ".n"})
	id := cidOf("a")
	if err := s.Put(ctx, id, note{"hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.Stat(ctx, "notes/"+id+".n"); err != nil {
		t.Fatalf("stored under another key: %v", err)
	}
	if got, err := s.Get(ctx, id); err != nil || got.text != "hello" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if raw, err := s.Raw(ctx, id); err != nil || string(raw) != "note:hello" {
		t.Fatalf("raw: %q, %v", raw, err)
	}
	if ok, err := s.Exists(ctx, id); !ok || err != nil {
		t.Fatalf("exists: %v, %v", ok, err)
	}
	if err := s.Put(ctx, cidOf("b"), note{"unencodable"}); err == nil || !strings.Contains(err.Error(), "encode") {
		t.Fatalf("an unencodable record: %v", err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, objectstore.ErrNotExist) {
		t.Fatalf("get after delete: %v, want ErrNotExist", err)
	}
	if ok, _ := s.Exists(ctx, id); ok {
		t.Fatal("exists after delete")
	}
}

// An id no key can have is "not found", never a fault; a record whose
// bytes do not decode is ErrCorrupt, and its bytes still read.
func TestBadIdsAndCorruptRecords(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(genericstore.CIDKeys{})
	for _, id := range []string{"", "not-a-cid", strings.ToUpper(cidOf("a")), "@"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, objectstore.ErrNotExist) {
			t.Errorf("get %q: %v, want ErrNotExist", id, err)
		}
		if ok, err := s.Exists(ctx, id); ok || err != nil {
			t.Errorf("exists %q: %v, %v", id, ok, err)
		}
	}
	if err := s.PutRaw(ctx, "nope", []byte("x")); err == nil {
		t.Error("PutRaw under an id no key can have")
	}
	id := cidOf("bad")
	if err := s.PutRaw(ctx, id, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, genericstore.ErrCorrupt) || !strings.Contains(err.Error(), id) {
		t.Fatalf("corrupt record: %v, want ErrCorrupt naming it", err)
	}
	if raw, err := s.Raw(ctx, id); err != nil || string(raw) != "garbage" {
		t.Fatalf("raw of a corrupt record: %q, %v", raw, err)
	}
}

// A listing yields the records' ids, skips what shares the namespace
// (Others), and shows a decodable record under a key of an unexpected
// shape as "@<key>"; one that does not decode is left out.
func TestList(t *testing.T) {
	ctx := context.Background()
	s, objs := newStore(genericstore.CIDKeys{Prefix: "r/", Others: []string{"index/"}})
	a, b := cidOf("a"), cidOf("b")
	for _, id := range []string{a, b} {
		if err := s.Put(ctx, id, note{id}); err != nil {
			t.Fatal(err)
		}
	}
	for key, val := range map[string]string{
		"index/" + a: "not a note, and not a record",
		"r/odd-key":  "note:under a key of another shape",
		"r/odd-bad":  "neither",
	} {
		if err := objs.Put(ctx, key, int64(len(val)), strings.NewReader(val)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"@r/odd-key", a, b}
	slices.Sort(want)
	if got := ids(t, s, ""); !slices.Equal(got, want) {
		t.Fatalf("listing %v, want %v", got, want)
	}
	if got, err := s.Get(ctx, "@r/odd-key"); err != nil || got.text != "under a key of another shape" {
		t.Fatalf("the odd record by its @key: %+v, %v", got, err)
	}
	if got := ids(t, s, a[:len(a)-1]); !slices.Equal(got, []string{a}) {
		t.Fatalf("listing by prefix: %v", got)
	}
}

// DigestSpace: ids are "<b32>/<space DID>" (or a cause CID, before
// Piri v0.0.14), keys "z<base58 digest>/<second><Suffix>"; a listing by
// blob narrows to that blob's keys.
func TestDigestSpace(t *testing.T) {
	ctx := context.Background()
	k := genericstore.DigestSpace{Suffix: ".cbor"}
	d, _ := mh.Sum([]byte("blob"), mh.SHA2_256, -1)
	other, _ := mh.Sum([]byte("other"), mh.SHA2_256, -1)
	const space = "did:key:z6MkvRXNYcE7MMduynWTgeKbDaT1iijDSC8pZqXZc8rHPrf2"
	id := blobstore.Name(d) + "/" + space
	key, err := k.Key(id)
	if err != nil || key != "z"+blobstore.Base58(d)+"/"+space+".cbor" {
		t.Fatalf("key %q, %v", key, err)
	}
	if back, ok := k.ID(key); !ok || back != id {
		t.Fatalf("id of %q: %q, %v", key, back, ok)
	}
	cause := blobstore.Name(d) + "/" + cidOf("cause")
	if _, err := k.Key(cause); err != nil {
		t.Errorf("an id with a cause CID: %v", err)
	}
	for _, bad := range []string{blobstore.Name(d), blobstore.Name(d) + "/not-a-did", "nonsense/" + space, blobstore.Name(d) + "/a/b"} {
		if _, err := k.Key(bad); err == nil {
			t.Errorf("key of %q: no error", bad)
		}
	}
	for _, bad := range []string{"z" + blobstore.Base58(d) + "/" + space, "nope/" + space + ".cbor", blobstore.Base58(d)} {
		if _, ok := k.ID(bad); ok {
			t.Errorf("%q taken for a record's key", bad)
		}
	}

	s, _ := newStore(k)
	for _, id := range []string{id, cause, blobstore.Name(other) + "/" + space} {
		if err := s.Put(ctx, id, note{"x"}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{cause, id}
	slices.Sort(want)
	if got := ids(t, s, blobstore.Name(d)+"/"); !slices.Equal(got, want) {
		t.Fatalf("listing of one blob: %v, want %v", got, want)
	}
	if p, ok := k.ListPrefix("nonsense"); ok {
		t.Errorf("a prefix that names no blob narrowed the listing to %q", p)
	}
}
