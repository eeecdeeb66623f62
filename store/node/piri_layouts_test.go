package node_test

// Data dirs laid out the way Piri's own code at old tags writes them,
// with go-datastore, go-ds-leveldb and go-ds-flatfs directly, never
// through storefs's stores: the reading side is checked against a writer
// it shares no code with. Each layout is quoted from Piri's source:
//
//   - v0.0.13 pkg/store/allocationstore/datastore.go: encodeKey is
//     datastore.NewKey(digestutil.Format(digest) + "/" + cause), Format
//     being multibase base58btc; the value is dag-cbor
//     {space: DID bytes, blob: {digest, size}, expires, cause: link}.
//   - v0.2.2 pkg/service/egresstracker/fx.go: the consolidation LevelDB is
//     <data_dir>/egress_tracker/journal/consolidation; v0.2.2
//     pkg/store/consolidationstore/store.go wraps it in the namespaces
//     "track/" (the track invocation's archive) and "consolidate/" (the
//     consolidate invocation CID's bytes), keyed by the batch CID.
//
// The track invocation is a real ucanto archive from the fixtures.
// (Building Piri itself at those tags is not possible here: neither it
// nor go-ucanto is served by the module proxy.)

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	flatfs "github.com/ipfs/go-ds-flatfs"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

func TestPiriWrittenLayouts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "pdp"), 0o755))
	blobs, err := flatfs.CreateOrOpen(node.BlobDir(dir), flatfs.NextToLast(2), false)
	must(t, err)
	blobs.Close()

	// v0.0.13: an allocation keyed by its cause.
	pub := make([]byte, 32)
	rand.Read(pub)
	spaceBytes := append([]byte{0xed, 0x01}, pub...) // multicodec ed25519-pub
	spaceDID, _ := multibase.Encode(multibase.Base58BTC, spaceBytes)
	spaceDID = "did:key:" + spaceDID
	digest, _ := mh.Sum([]byte("a blob Piri v0.0.13 allocated"), mh.SHA2_256, -1)
	cause, _ := cid.V1Builder{Codec: cid.DagCBOR, MhType: mh.SHA2_256}.Sum([]byte("blob/allocate invocation"))
	value := encodeCBOR(t, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(spaceBytes))
		qp.MapEntry(ma, "blob", qp.Map(2, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "digest", qp.Bytes(digest))
			qp.MapEntry(ma, "size", qp.Int(29))
		}))
		qp.MapEntry(ma, "expires", qp.Int(1750000000))
		qp.MapEntry(ma, "cause", qp.Link(cidlink.Link{Cid: cause}))
	})
	alloc, err := leveldb.NewDatastore(filepath.Join(dir, "allocation"), nil)
	must(t, err)
	b58, _ := multibase.Encode(multibase.Base58BTC, digest)
	must(t, alloc.Put(ctx, datastore.NewKey(fmt.Sprintf("%s/%s", b58, cause)), value))
	alloc.Close()

	// v0.2.2: a consolidation in the journal's split form.
	archive := fixtures.Read(t, "go-ucanto_delegationnonb.car")
	batch, _ := cid.V1Builder{Codec: 0x0202, MhType: mh.SHA2_256}.Sum([]byte("an egress batch"))
	consolidate, _ := cid.V1Builder{Codec: cid.DagCBOR, MhType: mh.SHA2_256}.Sum([]byte("space/egress/consolidate invocation"))
	journal, err := leveldb.NewDatastore(filepath.Join(dir, "egress_tracker", "journal", "consolidation"), nil)
	must(t, err)
	key := datastore.NewKey(batch.String())
	must(t, namespace.Wrap(journal, datastore.NewKey("track/")).Put(ctx, key, archive))
	must(t, namespace.Wrap(journal, datastore.NewKey("consolidate/")).Put(ctx, key, consolidate.Bytes()))
	journal.Close()

	st, err := node.Open(ctx, node.Config{DataDir: dir})
	must(t, err)
	defer st.Close()

	id := blobstore.Name(digest) + "/" + cause.String()
	if got := ids(t, st.Allocations); len(got) != 1 || got[0] != id {
		t.Fatalf("allocations: %v, want [%s]", got, id)
	}
	a, err := st.Allocations.Get(ctx, id)
	if err != nil || a.Space != spaceDID || a.Cause != cause || a.Size != 29 || !bytes.Equal(a.Digest, digest) {
		t.Fatalf("the v0.0.13 allocation: %+v, %v; want space %s", a, err, spaceDID)
	}

	var listed []string
	for e, err := range st.Consolidations.List(ctx) {
		must(t, err)
		listed = append(listed, e.ID)
	}
	if len(listed) != 1 || listed[0] != batch.String() {
		t.Fatalf("consolidations: %v, want [%s]", listed, batch)
	}
	c, err := st.Consolidations.Get(ctx, batch.String())
	if err != nil || !c.Legacy || c.ConsolidateInvocation != consolidate || c.Track == nil {
		t.Fatalf("the v0.2.2 consolidation: %+v, %v", c, err)
	}
}

func encodeCBOR(t *testing.T, build func(datamodel.MapAssembler)) []byte {
	t.Helper()
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, build)
	must(t, err)
	var buf bytes.Buffer
	must(t, dagcbor.Encode(n, &buf))
	return buf.Bytes()
}
