// Package jsupload serves the golden upload made with the real Storacha
// JS client (see README.md); its bytes live in internal/helpers/sample,
// whose demo shows them too.
package jsupload

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/sample"
)

// Blob is a blob of the upload.
type Blob struct {
	Digest mh.Multihash
	Name   string // b32, as a node names it
	Data   []byte
}

// Upload is the golden upload.
type Upload struct {
	Root   cid.Cid
	Shards []Blob // in the order the client cut them
	Index  Blob
	// Files are the sha256 (hex) of each file of the upload, by path.
	Files map[string]string
}

type manifest struct {
	Root   string            `json:"root"`
	Shards []string          `json:"shards"`
	Index  string            `json:"index"`
	Files  map[string]string `json:"files"`
}

// Load reads the upload.
func Load(t testing.TB) *Upload {
	t.Helper()
	raw, err := fs.ReadFile(sample.UploadFiles(), "manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	u := &Upload{Files: m.Files}
	if u.Root, err = cid.Decode(m.Root); err != nil {
		t.Fatal(err)
	}
	blob := func(name string) Blob {
		data, err := fs.ReadFile(sample.UploadFiles(), name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := mh.Sum(data, mh.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		return Blob{Digest: d, Name: name, Data: data}
	}
	for _, s := range m.Shards {
		u.Shards = append(u.Shards, blob(s))
	}
	u.Index = blob(m.Index)
	return u
}
