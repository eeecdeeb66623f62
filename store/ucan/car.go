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
	if len(data) > maxCAR {
		return nil, fmt.Errorf("car of %d bytes is too large", len(data))
	}
	br, err := car.NewBlockReader(bytes.NewReader(data),
		car.WithTrustedCAR(false),
		car.MaxAllowedHeaderSize(1<<20),
		car.MaxAllowedSectionSize(ipldutil.MaxBlock+1024))
	if err != nil {
		return nil, fmt.Errorf("car: %w", err)
	}
	c := &CAR{Roots: br.Roots, Blocks: map[cid.Cid][]byte{}}
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return nil, fmt.Errorf("car: %w", err)
		}
		c.Blocks[b.Cid()] = b.RawData()
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
