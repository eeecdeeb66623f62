// Package piece computes a blob's Filecoin piece CID as Piri does for
// PDP: commP (fr32-padded sha256-trunc254 binary tree) with
// go-fil-commp-hashhash, written as a piece CID v2 (FRC-0069: raw codec,
// multihash 0x1011, digest uvarint(padding) ‖ tree height ‖ root) with
// go-fil-commcid.
package piece

import (
	"errors"
	"fmt"
	"io"

	commcid "github.com/filecoin-project/go-fil-commcid"
	commp "github.com/filecoin-project/go-fil-commp-hashhash"
	"github.com/ipfs/go-cid"
)

// MinSize is the smallest blob that has a commP: Piri computes none under
// 127 bytes (one fr32 quad of payload).
const MinSize = 127

// ErrTooSmall is the error of a blob under MinSize.
var ErrTooSmall = errors.New("under 127 bytes: no commP")

// Calc computes a piece CID from bytes written to it, so the one read of a
// blob that hashes it for --verify computes its commP too.
type Calc struct {
	cp commp.Calc
	n  uint64
}

func (c *Calc) Write(p []byte) (int, error) {
	n, err := c.cp.Write(p)
	c.n += uint64(n)
	return n, err
}

// CID is the piece CID v2 of what was written, and the piece's padded
// size.
func (c *Calc) CID() (cid.Cid, uint64, error) {
	if c.n < MinSize {
		return cid.Undef, 0, fmt.Errorf("%d bytes: %w", c.n, ErrTooSmall)
	}
	digest, padded, err := c.cp.Digest()
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("commP: %w", err)
	}
	pc, err := commcid.DataCommitmentToPieceCidv2(digest, c.n)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("piece CID: %w", err)
	}
	return pc, padded, nil
}

// Of is the piece CID v2 and padded size of everything r holds.
func Of(r io.Reader) (cid.Cid, uint64, error) {
	var c Calc
	if _, err := io.Copy(&c, r); err != nil {
		return cid.Undef, 0, err
	}
	return c.CID()
}

// Sizes is what a piece CID v2 says of its piece: the payload (the blob's
// size) and the padded size in the tree.
func Sizes(pc cid.Cid) (payload, padded uint64, err error) {
	_, payload, err = commcid.PieceCidV2ToDataCommitment(pc)
	if err != nil {
		return 0, 0, fmt.Errorf("piece CID %s: %w", pc, err)
	}
	height, _, err := commcid.PayloadSizeToV1TreeHeightAndPadding(payload)
	if err != nil {
		return 0, 0, fmt.Errorf("piece CID %s: %w", pc, err)
	}
	return payload, 32 << height, nil
}
