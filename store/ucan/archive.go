package ucan

import (
	"fmt"
	"github.com/storacha/storefs/store/ipldutil"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
)

// Archive variant keys: the single root of an archive CAR is a block
// {"<key>": link} pointing at the archived UCAN or receipt.
const (
	DelegationVariant = "ucan@" + Version
	ReceiptVariant    = "ucan/receipt@" + Version
)

func variantBlock(key string, target cid.Cid) (ipldutil.Block, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, key, qp.Link(ipldutil.Link(target)))
	})
	if err != nil {
		return ipldutil.Block{}, err
	}
	return ipldutil.EncodeBlock(n)
}

// variantTarget reads the archive's root block and follows its link.
func variantTarget(c *CAR, key string) (cid.Cid, error) {
	root, err := c.Root()
	if err != nil {
		return cid.Undef, err
	}
	block, ok := c.Blocks[root]
	if !ok {
		return cid.Undef, fmt.Errorf("archive root block %s is missing", root)
	}
	n, err := ipldutil.DecodeCBOR(block)
	if err != nil {
		return cid.Undef, fmt.Errorf("archive root: %w", err)
	}
	if n.Kind() != datamodel.Kind_Map || n.Length() != 1 {
		return cid.Undef, fmt.Errorf("archive root is not a single-key variant")
	}
	return ipldutil.LinkField(n, key)
}

// DecodeDelegationArchive reads a delegation archive: a CAR whose root is
// {"ucan@0.9.1": link}. The result's CID is the UCAN's, not the root's.
func DecodeDelegationArchive(data []byte) (*Delegation, *CAR, error) {
	c, err := ReadCAR(data)
	if err != nil {
		return nil, nil, fmt.Errorf("delegation archive: %w", err)
	}
	target, err := variantTarget(c, DelegationVariant)
	if err != nil {
		return nil, nil, fmt.Errorf("delegation archive: %w", err)
	}
	block, ok := c.Blocks[target]
	if !ok {
		return nil, nil, fmt.Errorf("delegation archive: ucan block %s is missing", target)
	}
	d, err := DecodeDelegation(target, block)
	if err != nil {
		return nil, nil, fmt.Errorf("delegation archive: %w", err)
	}
	return d, c, nil
}

// EncodeDelegationArchive writes d's archive: proofs (and other attached
// blocks) first, then the UCAN, then the variant root, as ucanto does.
func EncodeDelegationArchive(d *Delegation, attached ...ipldutil.Block) ([]byte, error) {
	ucan, err := d.Encode()
	if err != nil {
		return nil, err
	}
	root, err := variantBlock(DelegationVariant, ucan.CID)
	if err != nil {
		return nil, err
	}
	return WriteCAR([]cid.Cid{root.CID}, append(append(attached[:len(attached):len(attached)], ucan), root))
}
