// Package acceptancestore keeps Piri's blob acceptances: the node accepted
// a blob for a space, and (optionally) promised a PDP proof. Records are
// dag-cbor {space, blob{digest,size}, pdpAccept?: {"ucan/await":
// [selector, link]}, executedAt, cause: link}.
package acceptancestore

import (
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordfield"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/render"
	"github.com/storacha/storefs/store/ucan"
)

// Acceptance is one record.
type Acceptance struct {
	Space      string // DID
	Digest     mh.Multihash
	Size       int64
	PDPAccept  *Promise // nil when the node promised no PDP proof
	ExecutedAt int64
	Cause      cid.Cid
}

// Promise is a ucan/await: the selector of a task's result, and the task.
type Promise struct {
	Selector string
	Link     cid.Cid
}

// ID is the record's name in the mount: "<b32>/<space DID>".
func (a Acceptance) ID() string { return blobstore.Name(a.Digest) + "/" + a.Space }

// Store is the acceptance store.
type Store = genericstore.Store[Acceptance]

// New is the store over objects, Piri's acceptance/ LevelDB or its
// <prefix>acceptances bucket (keys: recordkind.Acceptances).
func New(objects objectstore.Store, b recordkind.Backend) *Store {
	k := recordkind.Acceptances
	return genericstore.New(k.Name, objects, Codec{}, k.Keys(b))
}

// Codec is the dag-cbor encoding.
type Codec struct{}

func (Codec) Encode(a Acceptance) ([]byte, error) {
	space, err := ucan.ParseDID(a.Space)
	if err != nil {
		return nil, err
	}
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(space))
		qp.MapEntry(ma, "blob", recordfield.BlobNode(a.Digest, a.Size))
		if a.PDPAccept != nil {
			qp.MapEntry(ma, "pdpAccept", qp.Map(1, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "ucan/await", qp.List(2, func(la datamodel.ListAssembler) {
					qp.ListEntry(la, qp.String(a.PDPAccept.Selector))
					qp.ListEntry(la, qp.Link(ipldutil.Link(a.PDPAccept.Link)))
				}))
			}))
		}
		qp.MapEntry(ma, "executedAt", qp.Int(a.ExecutedAt))
		qp.MapEntry(ma, "cause", qp.Link(ipldutil.Link(a.Cause)))
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

func (Codec) Decode(_ string, data []byte) (Acceptance, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return Acceptance{}, err
	}
	var a Acceptance
	if a.Space, err = recordfield.Space(n); err != nil {
		return Acceptance{}, err
	}
	if a.Digest, a.Size, err = recordfield.Blob(n); err != nil {
		return Acceptance{}, err
	}
	if a.ExecutedAt, err = ipldutil.Int(n, "executedAt"); err != nil {
		return Acceptance{}, err
	}
	if a.Cause, err = ipldutil.LinkField(n, "cause"); err != nil {
		return Acceptance{}, err
	}
	if a.PDPAccept, err = promise(n); err != nil {
		return Acceptance{}, err
	}
	return a, nil
}

func promise(n datamodel.Node) (*Promise, error) {
	v, err := ipldutil.Field(n, "pdpAccept")
	if err != nil || v == nil || v.IsNull() {
		return nil, err
	}
	await, err := ipldutil.Required(v, "ucan/await")
	if err != nil {
		return nil, fmt.Errorf("pdpAccept: %w", err)
	}
	if await.Kind() != datamodel.Kind_List || await.Length() != 2 {
		return nil, fmt.Errorf("pdpAccept: ucan/await is not [selector, link]")
	}
	sel, _ := await.LookupByIndex(0)
	link, _ := await.LookupByIndex(1)
	var p Promise
	if p.Selector, err = sel.AsString(); err != nil {
		return nil, fmt.Errorf("pdpAccept selector: %w", err)
	}
	if p.Link, err = ipldutil.AsLink(link, "pdpAccept link"); err != nil {
		return nil, err
	}
	return &p, nil
}

type promiseJSON struct {
	Selector string `json:"selector"`
	Link     string `json:"link"`
}

type acceptanceJSON struct {
	Space      string               `json:"space"`
	Blob       recordfield.BlobJSON `json:"blob"`
	ExecutedAt int64                `json:"executedAt"`
	Cause      string               `json:"cause"`
	PDPAccept  *promiseJSON         `json:"pdpAccept"`
}

// JSON renders the acceptance as the mount shows it.
func (a Acceptance) JSON() ([]byte, error) {
	out := acceptanceJSON{
		Space: a.Space, Blob: recordfield.BlobJSONOf(a.Digest, a.Size),
		ExecutedAt: a.ExecutedAt, Cause: a.Cause.String(),
	}
	if a.PDPAccept != nil {
		out.PDPAccept = &promiseJSON{Selector: a.PDPAccept.Selector, Link: a.PDPAccept.Link.String()}
	}
	return render.JSON(out)
}
