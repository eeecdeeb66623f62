package ucan

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"github.com/storacha/storefs/store/ipldutil"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/storacha/storefs/store/render"
)

// Receipt is a receipt block {ocm: outcome, sig} and, when its block was
// at hand, the invocation it ran.
type Receipt struct {
	CID        cid.Cid
	Ran        cid.Cid
	Invocation *Delegation // nil when the invocation block is not present
	Issuer     *string     // ocm.iss; absent means the invocation's audience
	Ok         datamodel.Node
	Error      datamodel.Node // exactly one of Ok and Error is set
	Fork       []cid.Cid
	Join       *cid.Cid
	Meta       datamodel.Node
	Proofs     []cid.Cid
	Signature  Signature
}

// DecodeReceipt reads the receipt block root from blocks, and the
// invocation it ran when that block is there too.
func DecodeReceipt(root cid.Cid, blocks map[cid.Cid][]byte) (*Receipt, error) {
	block, ok := blocks[root]
	if !ok {
		return nil, fmt.Errorf("receipt %s: block is missing", root)
	}
	r, err := decodeReceiptBlock(block)
	if err != nil {
		return nil, fmt.Errorf("receipt %s: %w", root, err)
	}
	r.CID = root
	if inv, ok := blocks[r.Ran]; ok {
		if r.Invocation, err = DecodeDelegation(r.Ran, inv); err != nil {
			return nil, fmt.Errorf("receipt %s: invocation: %w", root, err)
		}
	}
	return r, nil
}

func decodeReceiptBlock(block []byte) (*Receipt, error) {
	n, err := ipldutil.DecodeCBOR(block)
	if err != nil {
		return nil, err
	}
	ocm, err := ipldutil.Required(n, "ocm")
	if err != nil {
		return nil, err
	}
	sig, err := ipldutil.Bytes(n, "sig")
	if err != nil {
		return nil, err
	}
	r := &Receipt{}
	if r.Signature, err = DecodeSignature(sig); err != nil {
		return nil, err
	}
	if r.Ran, err = ipldutil.LinkField(ocm, "ran"); err != nil {
		return nil, err
	}
	if v, err := ipldutil.Field(ocm, "iss"); err != nil {
		return nil, err
	} else if v != nil && !v.IsNull() {
		s, err := v.AsString()
		if err != nil {
			return nil, fmt.Errorf("iss: %w", err)
		}
		r.Issuer = &s
	}
	out, err := ipldutil.Required(ocm, "out")
	if err != nil {
		return nil, err
	}
	if r.Ok, err = ipldutil.Field(out, "ok"); err != nil {
		return nil, err
	}
	if r.Error, err = ipldutil.Field(out, "error"); err != nil {
		return nil, err
	}
	if (r.Ok == nil) == (r.Error == nil) || out.Length() != 1 {
		return nil, fmt.Errorf("out: want exactly one of ok and error")
	}
	fx, err := ipldutil.Required(ocm, "fx")
	if err != nil {
		return nil, err
	}
	if r.Fork, err = ipldutil.LinkList(fx, "fork"); err != nil {
		return nil, fmt.Errorf("fx: %w", err)
	}
	if v, err := ipldutil.Field(fx, "join"); err != nil {
		return nil, err
	} else if v != nil && !v.IsNull() {
		j, err := ipldutil.AsLink(v, "fx.join")
		if err != nil {
			return nil, err
		}
		r.Join = &j
	}
	if r.Meta, err = ipldutil.Field(ocm, "meta"); err != nil {
		return nil, err
	}
	if r.Proofs, err = ipldutil.LinkList(ocm, "prf"); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeReceiptCAR reads a receipt as Piri's receiptstore keeps it: a CAR
// whose root IS the receipt block.
func DecodeReceiptCAR(data []byte) (*Receipt, error) {
	c, err := ReadCAR(data)
	if err != nil {
		return nil, fmt.Errorf("receipt car: %w", err)
	}
	root, err := c.Root()
	if err != nil {
		return nil, fmt.Errorf("receipt car: %w", err)
	}
	return DecodeReceipt(root, c.Blocks)
}

// DecodeReceiptArchive reads a receipt archive, whose root is
// {"ucan/receipt@0.9.1": link} (retrieval journals hold these).
func DecodeReceiptArchive(data []byte) (*Receipt, error) {
	c, err := ReadCAR(data)
	if err != nil {
		return nil, fmt.Errorf("receipt archive: %w", err)
	}
	target, err := variantTarget(c, ReceiptVariant)
	if err != nil {
		return nil, fmt.Errorf("receipt archive: %w", err)
	}
	return DecodeReceipt(target, c.Blocks)
}

// outcome is the signed part of a receipt.
func (r *Receipt) outcome() (datamodel.Node, error) {
	return qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "ran", qp.Link(ipldutil.Link(r.Ran)))
		qp.MapEntry(ma, "out", qp.Map(1, func(ma datamodel.MapAssembler) {
			if r.Error != nil {
				qp.MapEntry(ma, "error", qp.Node(r.Error))
			} else {
				qp.MapEntry(ma, "ok", qp.Node(orEmptyMap(r.Ok)))
			}
		}))
		qp.MapEntry(ma, "fx", qp.Map(-1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "fork", linksNode(r.Fork))
			if r.Join != nil {
				qp.MapEntry(ma, "join", qp.Link(ipldutil.Link(*r.Join)))
			}
		}))
		qp.MapEntry(ma, "meta", qp.Node(orEmptyMap(r.Meta)))
		if r.Issuer != nil {
			qp.MapEntry(ma, "iss", qp.String(*r.Issuer))
		}
		qp.MapEntry(ma, "prf", linksNode(r.Proofs))
	})
}

func orEmptyMap(n datamodel.Node) datamodel.Node {
	if n != nil {
		return n
	}
	empty, _ := qp.BuildMap(basicnode.Prototype.Any, 0, func(datamodel.MapAssembler) {})
	return empty
}

func linksNode(cs []cid.Cid) qp.Assemble {
	return qp.List(int64(len(cs)), func(la datamodel.ListAssembler) {
		for _, c := range cs {
			qp.ListEntry(la, qp.Link(ipldutil.Link(c)))
		}
	})
}

// Sign sets an EdDSA signature over dag-cbor(ocm).
func (r *Receipt) Sign(key ed25519.PrivateKey) error {
	ocm, err := r.outcome()
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	payload, err := ipldutil.EncodeCBOR(ocm)
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	r.Signature = EdDSA(ed25519.Sign(key, payload))
	return nil
}

// Verify checks an EdDSA receipt signature of a did:key issuer.
func (r *Receipt) Verify() error {
	ocm, err := r.outcome()
	if err != nil {
		return err
	}
	payload, err := ipldutil.EncodeCBOR(ocm)
	if err != nil {
		return err
	}
	return verifyEd25519(r.IssuerDID(), r.Signature, payload)
}

// Encode returns the receipt block and sets r.CID.
func (r *Receipt) Encode() (ipldutil.Block, error) {
	ocm, err := r.outcome()
	if err != nil {
		return ipldutil.Block{}, fmt.Errorf("encode receipt: %w", err)
	}
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "ocm", qp.Node(ocm))
		qp.MapEntry(ma, "sig", qp.Bytes(r.Signature.Encode()))
	})
	if err != nil {
		return ipldutil.Block{}, fmt.Errorf("encode receipt: %w", err)
	}
	b, err := ipldutil.EncodeBlock(n)
	if err != nil {
		return ipldutil.Block{}, err
	}
	r.CID = b.CID
	return b, nil
}

// blocks are the receipt's own DAG: the invocation (when known), then the
// receipt.
func (r *Receipt) blocks() ([]ipldutil.Block, error) {
	var out []ipldutil.Block
	if r.Invocation != nil {
		inv, err := r.Invocation.Encode()
		if err != nil {
			return nil, err
		}
		r.Ran = inv.CID
		out = append(out, inv)
	}
	b, err := r.Encode()
	if err != nil {
		return nil, err
	}
	return append(out, b), nil
}

// EncodeReceiptCAR writes a receipt as Piri's receiptstore does: root = the
// receipt block; blocks = invocation, receipt.
func EncodeReceiptCAR(r *Receipt) ([]byte, error) {
	blocks, err := r.blocks()
	if err != nil {
		return nil, err
	}
	return WriteCAR([]cid.Cid{r.CID}, blocks)
}

// EncodeReceiptArchive writes receipt.Archive(): blocks, then the variant
// root {"ucan/receipt@0.9.1": link}.
func EncodeReceiptArchive(r *Receipt) ([]byte, error) {
	blocks, err := r.blocks()
	if err != nil {
		return nil, err
	}
	root, err := variantBlock(ReceiptVariant, r.CID)
	if err != nil {
		return nil, err
	}
	return WriteCAR([]cid.Cid{root.CID}, append(blocks, root))
}

// IssuerDID is ocm.iss, or else the invocation's audience, or "".
func (r *Receipt) IssuerDID() string {
	if r.Issuer != nil {
		return *r.Issuer
	}
	if r.Invocation != nil {
		return r.Invocation.Audience
	}
	return ""
}

type receiptJSON struct {
	CID        string          `json:"cid"`
	Ran        string          `json:"ran"`
	Invocation any             `json:"invocation"`
	Issuer     *string         `json:"issuer"`
	Out        json.RawMessage `json:"out"`
	Fx         fxJSON          `json:"fx"`
	Meta       json.RawMessage `json:"meta"`
	Proofs     []string        `json:"proofs"`
}

type fxJSON struct {
	Fork []string `json:"fork"`
	Join *string  `json:"join"`
}

// JSON renders the receipt as the mount shows it.
// OutJSON renders the outcome as dag-json: {"ok": …} or {"error": …}.
func (r *Receipt) OutJSON() (json.RawMessage, error) {
	key, val := "ok", r.Ok
	if r.Error != nil {
		key, val = "error", r.Error
	}
	v, err := render.Node(val)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(fmt.Sprintf("{%q: %s}", key, v)), nil
}

func (r *Receipt) JSON() ([]byte, error) {
	out := receiptJSON{CID: r.CID.String(), Ran: r.Ran.String(), Proofs: render.CIDs(r.Proofs),
		Fx: fxJSON{Fork: render.CIDs(r.Fork)}}
	if iss := r.IssuerDID(); iss != "" {
		out.Issuer = &iss
	}
	if r.Join != nil {
		j := r.Join.String()
		out.Fx.Join = &j
	}
	if r.Invocation != nil {
		inv, err := r.Invocation.JSONValue()
		if err != nil {
			return nil, err
		}
		out.Invocation = inv
	}
	var err error
	if out.Out, err = r.OutJSON(); err != nil {
		return nil, err
	}
	if out.Meta, err = render.Node(orEmptyMap(r.Meta)); err != nil {
		return nil, err
	}
	return render.JSON(out)
}
