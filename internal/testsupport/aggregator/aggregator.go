// Package aggregator writes a Piri node's aggregator datastore for tests:
// the bytes Piri v0.2.4 writes (checked against the golden datastore
// scripts/piri-aggregator made with Piri's own code).
package aggregator

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	reader "github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/ipldutil"
)

// Piece is a piece of an aggregate.
type Piece struct {
	CID   cid.Cid
	Index uint64
	Path  [][]byte
}

// Aggregate is an aggregate piece and its pieces, largest first.
type Aggregate struct {
	Root   cid.Cid
	Pieces []Piece
}

// FromLayout is the aggregate Piri records for a root of padded bytes
// laid out as pdpstate.Layout lays pieces out: each piece's index is its
// offset in units of its size, and its proof as many nodes as the tree
// has levels above it (zeros: nothing here checks them).
func FromLayout(root cid.Cid, padded uint64, subs []pdpstate.Subroot) Aggregate {
	a := Aggregate{Root: root}
	for _, s := range subs {
		depth := bits.Len64(padded) - bits.Len64(s.Piece.Padded)
		a.Pieces = append(a.Pieces, Piece{CID: s.Piece.CID, Index: s.Offset / s.Piece.Padded, Path: make([][]byte, depth)})
		for i := range depth {
			a.Pieces[len(a.Pieces)-1].Path[i] = make([]byte, 32)
		}
	}
	return a
}

func link(c cid.Cid) datamodel.Link { return cidlink.Link{Cid: c} }

// EncodeAggregate is an /aggregates/ value.
func EncodeAggregate(a Aggregate) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "root", qp.Link(link(a.Root)))
		qp.MapEntry(ma, "pieces", qp.List(int64(len(a.Pieces)), func(la datamodel.ListAssembler) {
			for _, p := range a.Pieces {
				qp.ListEntry(la, qp.Map(2, func(ma datamodel.MapAssembler) {
					qp.MapEntry(ma, "link", qp.Link(link(p.CID)))
					qp.MapEntry(ma, "inclusionProof", qp.Map(2, func(ma datamodel.MapAssembler) {
						qp.MapEntry(ma, "path", qp.List(int64(len(p.Path)), func(la datamodel.ListAssembler) {
							for _, node := range p.Path {
								qp.ListEntry(la, qp.Bytes(node))
							}
						}))
						qp.MapEntry(ma, "index", qp.Int(int64(p.Index)))
					}))
				}))
			}
		}))
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

func links(key string, cs []cid.Cid) func(datamodel.MapAssembler) {
	return func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, key, qp.List(int64(len(cs)), func(la datamodel.ListAssembler) {
			for _, c := range cs {
				qp.ListEntry(la, qp.Link(link(c)))
			}
		}))
	}
}

// EncodeBuffer is the /workspace/buffer value: pieces largest first.
func EncodeBuffer(total uint64, pieces []cid.Cid) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "totalSize", qp.Int(int64(total)))
		links("reverseSortedPieces", pieces)(ma)
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

// EncodeSubmission is the /manager/aggregate_buffer value.
func EncodeSubmission(roots []cid.Cid) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 1, links("Roots", roots))
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

// Writer writes a data dir's aggregator datastore.
type Writer struct{ d *leveldb.Datastore }

// Create opens (making it if need be) dataDir's aggregator datastore. As
// Piri's manager does when it starts, it writes an empty submission.
func Create(dataDir string) (*Writer, error) {
	d, err := leveldb.NewDatastore(reader.Dir(dataDir), nil)
	if err != nil {
		return nil, fmt.Errorf("aggregator datastore: %w", err)
	}
	w := &Writer{d: d}
	if err := w.SetSubmission(nil); err != nil {
		d.Close()
		return nil, err
	}
	return w, nil
}

// Close closes the datastore.
func (w *Writer) Close() error { return w.d.Close() }

func (w *Writer) put(key string, data []byte, err error) error {
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return w.d.Put(context.Background(), ds.NewKey(key), data)
}

// PutAggregate writes an aggregate under its root.
func (w *Writer) PutAggregate(a Aggregate) error {
	data, err := EncodeAggregate(a)
	return w.put("/aggregates/"+a.Root.String(), data, err)
}

// SetBuffer writes the pieces waiting to be aggregated.
func (w *Writer) SetBuffer(pieces []pdpstate.Piece) error {
	var total uint64
	cs := make([]cid.Cid, len(pieces))
	for i, p := range pieces {
		total += p.Padded
		cs[i] = p.CID
	}
	data, err := EncodeBuffer(total, cs)
	return w.put("/workspace/buffer", data, err)
}

// SetSubmission writes the aggregates waiting to be added.
func (w *Writer) SetSubmission(roots []cid.Cid) error {
	data, err := EncodeSubmission(roots)
	return w.put("/manager/aggregate_buffer", data, err)
}
