package recordkind_test

import (
	"slices"
	"testing"

	"github.com/storacha/storefs/store/recordkind"
)

// Every row says where each backend keeps the kind, and no two kinds
// share a name, a directory or a bucket.
func TestTable(t *testing.T) {
	seen := map[string]string{}
	claim := func(what, v, kind string) {
		if v == "" {
			return
		}
		if other, ok := seen[what+" "+v]; ok {
			t.Errorf("%s %q is both %s's and %s's", what, v, other, kind)
		}
		seen[what+" "+v] = kind
	}
	for _, k := range recordkind.All {
		if k.Name == "" || k.Dir == "" || k.RawExt == "" || k.Codec == "" {
			t.Errorf("%+v: a field is missing", k)
		}
		if k.Keys(recordkind.Datastore) == nil || (k.Bucket != "" && k.Keys(recordkind.S3) == nil) {
			t.Errorf("%s: no key scheme for a backend that keeps it", k.Name)
		}
		claim("name", k.Name, k.Name)
		claim("dir", k.Dir, k.Name)
		claim("bucket", k.Bucket, k.Name)
		for _, d := range k.LegacyDirs {
			claim("dir", d, k.Name)
		}
		if got, ok := recordkind.ByName(k.Name); !ok || got.Name != k.Name {
			t.Errorf("ByName(%q): %v", k.Name, ok)
		}
	}
	if _, ok := recordkind.ByName("blobs"); ok {
		t.Error("ByName found a kind that is not one")
	}
	if !slices.Equal(recordkind.Names(), []string{"allocations", "acceptances", "consolidations", "delegations", "receipts"}) {
		t.Errorf("names %v", recordkind.Names())
	}
}

// The key schemes are Piri's: a record id maps to the key Piri v0.2.4
// writes in each backend.
func TestKeys(t *testing.T) {
	const b32 = "ciqbedcf3jlcjp6ekqnbt2k2krpcc4nbcmltufkpl6wuw2hdpgwtvqi"
	const did = "did:key:z6MkvRXNYcE7MMduynWTgeKbDaT1iijDSC8pZqXZc8rHPrf2"
	const c = "bafyreibl67tvjaoqtaavedcy23mttzk6ii7kjrzeyuhs2bukrcbslndg4a"
	for _, tc := range []struct {
		kind    recordkind.Kind
		backend recordkind.Backend
		id      string
		want    string
	}{
		{recordkind.Receipts, recordkind.Datastore, c, "receipts/" + c},
		{recordkind.Receipts, recordkind.S3, c, c},
		{recordkind.Consolidations, recordkind.S3, c, c + ".cbor"},
		{recordkind.Delegations, recordkind.S3, c, c},
	} {
		got, err := tc.kind.Keys(tc.backend).Key(tc.id)
		if err != nil || got != tc.want {
			t.Errorf("%s backend %d: key of %s = %q, %v; want %q", tc.kind.Name, tc.backend, tc.id, got, err, tc.want)
		}
	}
	for _, k := range []recordkind.Kind{recordkind.Allocations, recordkind.Acceptances} {
		ds, err1 := k.Keys(recordkind.Datastore).Key(b32 + "/" + did)
		s3, err2 := k.Keys(recordkind.S3).Key(b32 + "/" + did)
		if err1 != nil || err2 != nil || s3 != ds+".cbor" {
			t.Errorf("%s: datastore key %q (%v), S3 key %q (%v): want the S3 one to be the datastore one + .cbor", k.Name, ds, err1, s3, err2)
		}
	}
}
