// Package aggregator reads a Piri node's PDP aggregator datastore
// (<data_dir>/aggregator/datastore, a LevelDB, local also on a node whose
// stores are on S3): the aggregates built from pieces, with where each
// piece lies in its aggregate; the buffer of pieces waiting for enough of
// them to make one; and the aggregates waiting to be added to a proof set.
//
// Values are dag-cbor of Piri's schemas (pkg/pdp/aggregation/types and
// manager at v0.2.4):
//
//	/aggregates/<aggregate piece CID>  {root, pieces: [{link, inclusionProof: {path, index}}]}
//	/workspace/buffer                  {totalSize, reverseSortedPieces: [link]}
//	/manager/aggregate_buffer          {Roots: [link]}
//
// Piri holds the LevelDB locked while it runs, and a reader holding it
// would stop Piri from starting: callers open, read and close.
package aggregator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"

	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/piece"
)

// Dir is where a data dir keeps the aggregator datastore.
func Dir(dataDir string) string { return filepath.Join(dataDir, "aggregator", "datastore") }

// ErrNone is matched when the data dir has no aggregator datastore (a
// node that never accepted a blob for PDP, or not a Piri data dir).
var ErrNone = errors.New("no aggregator datastore")

// ErrLocked is matched while a running node holds the datastore.
var ErrLocked = dsadapter.ErrLocked

// ErrNotFound is matched for an aggregate the datastore does not have.
var ErrNotFound = errors.New("no such aggregate")

// Piece is a piece of an aggregate: its piece CID (v2) and where it lies.
type Piece struct {
	Piece string `json:"piece"`
	// Index is the piece's position among the aggregate's leaves of its
	// own size; Path the inclusion proof's nodes, leaf to root.
	Index uint64   `json:"index"`
	Path  [][]byte `json:"-"`
}

// Offset is where the piece lies in its aggregate, and its size, in
// padded bytes (0, 0 for a piece CID that is not v2).
func (p Piece) Offset() (offset, size uint64) {
	c, err := cid.Decode(p.Piece)
	if err != nil {
		return 0, 0
	}
	if _, size, err = piece.Sizes(c); err != nil {
		return 0, 0
	}
	return p.Index * size, size
}

// Aggregate is an aggregate piece and the pieces in it, largest first.
type Aggregate struct {
	Root   string  `json:"root"`
	Pieces []Piece `json:"pieces"`
}

// Buffer is the pieces waiting to be aggregated.
type Buffer struct {
	TotalSize uint64   `json:"total_size"` // padded bytes
	Pieces    []string `json:"pieces"`     // largest first
}

// DB is an open aggregator datastore.
type DB struct {
	s   *dsadapter.Store
	dir string
}

// Open opens dataDir's aggregator datastore read-only. A locked one is
// ErrLocked, with the way round it.
func Open(dataDir string) (*DB, error) {
	dir := Dir(dataDir)
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNone)
	}
	s, err := dsadapter.OpenLevelDB(dir, true)
	if err != nil {
		return nil, fmt.Errorf("aggregator datastore: %w", err)
	}
	return &DB{s: s, dir: dir}, nil
}

// Close releases the datastore (and its lock).
func (d *DB) Close() error { return d.s.Close() }

const aggregatesPrefix = "aggregates/"

// Roots yields the root of every aggregate, reading no value.
func (d *DB) Roots(ctx context.Context, yield func(root string) bool) error {
	for info, err := range d.s.List(ctx, aggregatesPrefix) {
		if err != nil {
			return fmt.Errorf("list aggregates in %s: %w", d.dir, err)
		}
		if !yield(strings.TrimPrefix(info.Key, aggregatesPrefix)) {
			return nil
		}
	}
	return nil
}

// Aggregates yields every aggregate.
func (d *DB) Aggregates(ctx context.Context, yield func(Aggregate) bool) error {
	var stop bool
	var ferr error
	err := d.Roots(ctx, func(root string) bool {
		a, err := d.Aggregate(ctx, root)
		if err != nil {
			ferr = err
			return false
		}
		stop = !yield(a)
		return !stop
	})
	if err != nil {
		return err
	}
	return ferr
}

// Aggregate reads one aggregate by its root's piece CID.
func (d *DB) Aggregate(ctx context.Context, root string) (Aggregate, error) {
	if root == "" || strings.Contains(root, "/") {
		return Aggregate{}, fmt.Errorf("aggregate %q: %w", root, ErrNotFound)
	}
	data, err := d.get(ctx, aggregatesPrefix+root)
	if errors.Is(err, objectstore.ErrNotExist) {
		return Aggregate{}, fmt.Errorf("aggregate %s: %w", root, ErrNotFound)
	}
	if err != nil {
		return Aggregate{}, err
	}
	a, err := DecodeAggregate(data)
	if err != nil {
		return Aggregate{}, fmt.Errorf("aggregate %s in %s: %w", root, d.dir, err)
	}
	return a, nil
}

// Buffer reads the pieces waiting to be aggregated (none when Piri has
// not written the buffer yet).
func (d *DB) Buffer(ctx context.Context) (Buffer, error) {
	data, err := d.get(ctx, "workspace/buffer")
	if errors.Is(err, objectstore.ErrNotExist) {
		return Buffer{Pieces: []string{}}, nil
	}
	if err != nil {
		return Buffer{}, err
	}
	b, err := DecodeBuffer(data)
	if err != nil {
		return Buffer{}, fmt.Errorf("the buffer in %s: %w", d.dir, err)
	}
	return b, nil
}

// Submission reads the aggregates waiting to be added to a proof set.
func (d *DB) Submission(ctx context.Context) ([]string, error) {
	data, err := d.get(ctx, "manager/aggregate_buffer")
	if errors.Is(err, objectstore.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	roots, err := DecodeSubmission(data)
	if err != nil {
		return nil, fmt.Errorf("the aggregates to submit in %s: %w", d.dir, err)
	}
	return roots, nil
}

func (d *DB) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := d.s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", key, d.dir, err)
	}
	return data, nil
}

// DecodeAggregate decodes an /aggregates/ value.
func DecodeAggregate(data []byte) (Aggregate, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return Aggregate{}, err
	}
	root, err := ipldutil.LinkField(n, "root")
	if err != nil {
		return Aggregate{}, err
	}
	a := Aggregate{Root: root.String()}
	err = eachItem(n, "pieces", func(i int, p datamodel.Node) error {
		link, err := ipldutil.LinkField(p, "link")
		if err != nil {
			return err
		}
		proof, err := ipldutil.Required(p, "inclusionProof")
		if err != nil {
			return err
		}
		index, err := ipldutil.Int(proof, "index")
		if err != nil {
			return err
		}
		if index < 0 {
			return fmt.Errorf("inclusionProof.index %d", index)
		}
		piece := Piece{Piece: link.String(), Index: uint64(index)}
		err = eachItem(proof, "path", func(_ int, node datamodel.Node) error {
			b, err := node.AsBytes()
			if err != nil {
				return fmt.Errorf("path: %w", err)
			}
			piece.Path = append(piece.Path, b)
			return nil
		})
		if err != nil {
			return err
		}
		a.Pieces = append(a.Pieces, piece)
		return nil
	})
	if err != nil {
		return Aggregate{}, err
	}
	if a.Pieces == nil {
		a.Pieces = []Piece{}
	}
	return a, nil
}

// DecodeBuffer decodes the /workspace/buffer value.
func DecodeBuffer(data []byte) (Buffer, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return Buffer{}, err
	}
	total, err := ipldutil.Int(n, "totalSize")
	if err != nil {
		return Buffer{}, err
	}
	if total < 0 {
		return Buffer{}, fmt.Errorf("totalSize %d", total)
	}
	links, err := ipldutil.LinkList(n, "reverseSortedPieces")
	if err != nil {
		return Buffer{}, err
	}
	b := Buffer{TotalSize: uint64(total), Pieces: make([]string, len(links))}
	for i, l := range links {
		b.Pieces[i] = l.String()
	}
	return b, nil
}

// DecodeSubmission decodes the /manager/aggregate_buffer value.
func DecodeSubmission(data []byte) ([]string, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return nil, err
	}
	links, err := ipldutil.LinkList(n, "Roots")
	if err != nil {
		return nil, err
	}
	roots := make([]string, len(links))
	for i, l := range links {
		roots[i] = l.String()
	}
	return roots, nil
}

func eachItem(n datamodel.Node, key string, each func(int, datamodel.Node) error) error {
	v, err := ipldutil.Required(n, key)
	if err != nil {
		return err
	}
	if v.Kind() != datamodel.Kind_List {
		return fmt.Errorf("%s: expected a list, found %s", key, v.Kind())
	}
	it := v.ListIterator()
	for !it.Done() {
		i, item, err := it.Next()
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if err := each(int(i), item); err != nil {
			return fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	return nil
}
