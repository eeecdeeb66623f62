// Package recordkind is the one table of the record kinds a Piri node
// keeps: for each, its name in the mount and the CLI, where a data dir and
// an S3 node keep it, its stored-bytes file's extension, what a record is,
// and its key scheme in each backend. The typed stores, the node opener,
// the mount's directories, `storefs check` and `storefs copy` take what
// they need from it; a kind is added here, once.
//
// What a record decodes to (its Go type and codec) lives with the type,
// in the kind's typed store package, which binds it to this row.
package recordkind

import (
	"path/filepath"

	"github.com/storacha/storefs/store/genericstore"
)

// Backend is where a node keeps its records: Piri's LevelDB directories
// in a data dir (go-datastore keys, also the memory backend's), or S3
// buckets.
type Backend int

const (
	Datastore Backend = iota
	S3
)

// Kind is one kind of record.
type Kind struct {
	// Name is the mount's directory, the CLI's KIND, the store's name in
	// messages and check's reports.
	Name string
	// Dir is the kind's LevelDB directory in a data dir.
	Dir string
	// LegacyDirs are older data-dir locations the kind is also read from
	// (relative to the data dir); never written.
	LegacyDirs []string
	// Bucket is the S3 bucket's name after the node's bucket prefix; ""
	// for a kind kept only in the data dir.
	Bucket string
	// RawExt is the extension of the file of a record's stored bytes.
	RawExt string
	// Codec says what a record's stored bytes are.
	Codec string
	// keys are the key schemes, by Backend.
	keys [2]genericstore.Keys
}

// Keys is the kind's key scheme in backend b.
func (k Kind) Keys(b Backend) genericstore.Keys { return k.keys[b] }

// The kinds, as Piri v0.2.4 keeps them (older layouts noted where read).
var (
	Allocations = Kind{
		Name: "allocations", Dir: "allocation", Bucket: "allocations", RawExt: "cbor",
		Codec: "dag-cbor {space, blob: {digest, size}, expires, cause}",
		// LevelDB "/<b58 digest>/<space DID>"; S3 "<b58 digest>/<space DID>.cbor"
		keys: [2]genericstore.Keys{genericstore.DigestSpace{}, genericstore.DigestSpace{Suffix: ".cbor"}},
	}
	Acceptances = Kind{
		Name: "acceptances", Dir: "acceptance", Bucket: "acceptances", RawExt: "cbor",
		Codec: "dag-cbor {space, blob: {digest, size}, pdpAccept?, executedAt, cause}",
		keys:  [2]genericstore.Keys{genericstore.DigestSpace{}, genericstore.DigestSpace{Suffix: ".cbor"}},
	}
	Consolidations = Kind{
		Name: "consolidations", Dir: "consolidation", Bucket: "consolidation", RawExt: "cbor",
		// Piri v0.0.15–v0.2.2 kept them in the split form here.
		LegacyDirs: []string{filepath.Join("egress_tracker", "journal", "consolidation")},
		Codec:      "dag-cbor {trackInvocation, consolidateInvocationCID} (older: the split track/ and consolidate/ form)",
		// LevelDB "/<batch CID>", beside the split form's track/ and
		// consolidate/ keys; S3 "<batch CID>.cbor"
		keys: [2]genericstore.Keys{genericstore.CIDKeys{Others: []string{"track/", "consolidate/"}}, genericstore.CIDKeys{Suffix: ".cbor"}},
	}
	Delegations = Kind{
		Name: "delegations", Dir: "claim", Bucket: "claims", RawExt: "car",
		Codec: "delegation archive: CAR rooted at {\"ucan@0.9.1\": link}",
		keys:  [2]genericstore.Keys{genericstore.CIDKeys{}, genericstore.CIDKeys{}},
	}
	Receipts = Kind{
		Name: "receipts", Dir: "receipt", Bucket: "receipts", RawExt: "car",
		Codec: "CAR rooted at the receipt block, then its invocation",
		// LevelDB "/receipts/<CID>" beside the ran index
		// "/ranLinkIndex/<ran CID>"; S3 "<CID>" beside
		// "receipts-ran/<ran CID>.ref"
		keys: [2]genericstore.Keys{genericstore.CIDKeys{Prefix: "receipts/", Others: []string{"ranLinkIndex/"}}, genericstore.CIDKeys{Others: []string{"receipts-ran/"}}},
	}
)

// All are the kinds, in the order the mount and reports show them.
var All = []Kind{Allocations, Acceptances, Consolidations, Delegations, Receipts}

// Names are the names of All.
func Names() []string {
	out := make([]string, len(All))
	for i, k := range All {
		out[i] = k.Name
	}
	return out
}

// ByName is the kind named name.
func ByName(name string) (Kind, bool) {
	for _, k := range All {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
