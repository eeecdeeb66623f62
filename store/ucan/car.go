package ucan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/storacha/storefs/store/ipldutil"
	"io"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
)

// CAR is a CARv1 read into memory: its roots, and its blocks by CID (in any
// order, duplicates folded). Every block's hash is checked.
type CAR struct {
	Roots  []cid.Cid
	Blocks map[cid.Cid][]byte
}

// maxCAR bounds the CARs the decoders read (records are KB sized).
const maxCAR = 64 << 20

// ReadCAR parses CAR bytes.
func ReadCAR(data []byte) (*CAR, error) {
	roots, sections, err := readCAR(data)
	if err != nil {
		return nil, err
	}
	c := &CAR{Roots: roots, Blocks: make(map[cid.Cid][]byte, len(sections))}
	for _, b := range sections {
		c.Blocks[b.CID] = b.Data
	}
	return c, nil
}

// ReadCARSections returns a CAR's sections in file order, duplicates kept
// (a retrieval journal batch is read this way).
func ReadCARSections(data []byte) ([]ipldutil.Block, error) {
	_, sections, err := readCAR(data)
	return sections, err
}

func readCAR(data []byte) ([]cid.Cid, []ipldutil.Block, error) {
	if len(data) > maxCAR {
		return nil, nil, fmt.Errorf("car of %d bytes is too large", len(data))
	}
	br, err := car.NewBlockReader(bytes.NewReader(data),
		car.WithTrustedCAR(false),
		car.MaxAllowedHeaderSize(1<<20),
		car.MaxAllowedSectionSize(maxCAR))
	if err != nil {
		return nil, nil, fmt.Errorf("car: %w", err)
	}
	if br.Version != 1 {
		return nil, nil, fmt.Errorf("car: version %d, want 1", br.Version)
	}
	var sections []ipldutil.Block
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			return br.Roots, sections, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("car: %w", err)
		}
		sections = append(sections, ipldutil.Block{CID: b.Cid(), Data: b.RawData()})
	}
}

// Root is the single root, for CARs that must have exactly one.
func (c *CAR) Root() (cid.Cid, error) {
	if len(c.Roots) != 1 {
		return cid.Undef, fmt.Errorf("car: want 1 root, found %d", len(c.Roots))
	}
	return c.Roots[0], nil
}

// WriteCAR writes a CARv1 with the given roots and blocks, in order, each
// block once.
func WriteCAR(roots []cid.Cid, blocks []ipldutil.Block) ([]byte, error) {
	if roots == nil {
		roots = []cid.Cid{} // "roots": [] rather than null
	}
	var buf bytes.Buffer
	w, err := storage.NewWritable(&buf, roots, car.WriteAsCarV1(true), car.AllowDuplicatePuts(false))
	if err != nil {
		return nil, fmt.Errorf("write car: %w", err)
	}
	seen := map[cid.Cid]bool{}
	for _, b := range blocks {
		if seen[b.CID] {
			continue
		}
		seen[b.CID] = true
		if err := w.Put(context.Background(), b.CID.KeyString(), b.Data); err != nil {
			return nil, fmt.Errorf("write car: %w", err)
		}
	}
	return buf.Bytes(), nil
}
