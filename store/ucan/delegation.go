package ucan

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/storacha/storefs/store/ipldutil"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-varint"

	"github.com/storacha/storefs/store/render"
)

// Version is the UCAN version ucanto writes and reads.
const Version = "0.9.1"

// Delegation is a UCAN block: a delegation, or an invocation (same format).
type Delegation struct {
	CID          cid.Cid // of the UCAN block: the delegation's identity and store key
	Version      string
	Issuer       string // DID
	Audience     string // DID
	Capabilities []Capability
	Expiration   *int64 // nil: never (JS Infinity)
	NotBefore    *int64
	Nonce        *string
	Facts        []datamodel.Node
	Proofs       []cid.Cid
	Signature    Signature
}

// Capability is one entry of att.
type Capability struct {
	With string
	Can  string
	Nb   datamodel.Node // nil when absent (JS), an empty map when {} (Go)
}

// DecodeDelegation parses a UCAN block.
func DecodeDelegation(c cid.Cid, block []byte) (*Delegation, error) {
	n, err := ipldutil.DecodeCBOR(block)
	if err != nil {
		return nil, fmt.Errorf("ucan %s: %w", c, err)
	}
	d, err := delegationFromNode(n)
	if err != nil {
		return nil, fmt.Errorf("ucan %s: %w", c, err)
	}
	d.CID = c
	return d, nil
}

func delegationFromNode(n datamodel.Node) (*Delegation, error) {
	d := &Delegation{}
	var err error
	if d.Version, err = ipldutil.String(n, "v"); err != nil {
		return nil, err
	}
	for key, dst := range map[string]*string{"iss": &d.Issuer, "aud": &d.Audience} {
		b, err := ipldutil.Bytes(n, key)
		if err != nil {
			return nil, err
		}
		if *dst, err = FormatDID(b); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	sig, err := ipldutil.Bytes(n, "s")
	if err != nil {
		return nil, err
	}
	if d.Signature, err = DecodeSignature(sig); err != nil {
		return nil, err
	}
	if d.Capabilities, err = capabilities(n); err != nil {
		return nil, err
	}
	// exp is always present; null means "never". Either way ints may be
	// larger than 2^32 (JS writes milliseconds by mistake).
	if d.Expiration, err = ipldutil.OptionalInt(n, "exp"); err != nil {
		return nil, err
	}
	if d.NotBefore, err = ipldutil.OptionalInt(n, "nbf"); err != nil {
		return nil, err
	}
	if v, err := ipldutil.Field(n, "nnc"); err != nil {
		return nil, err
	} else if v != nil && !v.IsNull() {
		s, err := v.AsString()
		if err != nil {
			return nil, fmt.Errorf("nnc: %w", err)
		}
		d.Nonce = &s
	}
	if d.Facts, err = nodeList(n, "fct"); err != nil {
		return nil, err
	}
	if d.Proofs, err = ipldutil.LinkList(n, "prf"); err != nil {
		return nil, err
	}
	return d, nil
}

func capabilities(n datamodel.Node) ([]Capability, error) {
	att, err := nodeList(n, "att")
	if err != nil {
		return nil, err
	}
	caps := make([]Capability, 0, len(att))
	for i, a := range att {
		var c Capability
		if c.With, err = ipldutil.String(a, "with"); err != nil {
			return nil, fmt.Errorf("att[%d]: %w", i, err)
		}
		if c.Can, err = ipldutil.String(a, "can"); err != nil {
			return nil, fmt.Errorf("att[%d]: %w", i, err)
		}
		if c.Nb, err = ipldutil.Field(a, "nb"); err != nil {
			return nil, fmt.Errorf("att[%d]: %w", i, err)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

func nodeList(n datamodel.Node, key string) ([]datamodel.Node, error) {
	v, err := ipldutil.Field(n, key)
	if err != nil || v == nil || v.IsNull() {
		return nil, err
	}
	if v.Kind() != datamodel.Kind_List {
		return nil, fmt.Errorf("%s: expected a list, found %s", key, v.Kind())
	}
	out := make([]datamodel.Node, 0, v.Length())
	for it := v.ListIterator(); !it.Done(); {
		_, item, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, item)
	}
	return out, nil
}

// Node is the delegation as the UCAN block's data model (without CID).
func (d *Delegation) Node() (datamodel.Node, error) {
	iss, err := ParseDID(d.Issuer)
	if err != nil {
		return nil, err
	}
	aud, err := ParseDID(d.Audience)
	if err != nil {
		return nil, err
	}
	return qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "v", qp.String(d.Version))
		qp.MapEntry(ma, "iss", qp.Bytes(iss))
		qp.MapEntry(ma, "aud", qp.Bytes(aud))
		qp.MapEntry(ma, "s", qp.Bytes(d.Signature.Encode()))
		d.payloadFields(ma)
		qp.MapEntry(ma, "prf", linksNode(d.Proofs))
	})
}

// payloadFields writes the fields shared by the block and the signed
// payload: att, exp, and fct, nnc, nbf when set. (prf differs: links in
// the block, CID strings in the payload.)
func (d *Delegation) payloadFields(ma datamodel.MapAssembler) {
	qp.MapEntry(ma, "att", qp.List(int64(len(d.Capabilities)), func(la datamodel.ListAssembler) {
		for _, c := range d.Capabilities {
			qp.ListEntry(la, qp.Map(-1, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "with", qp.String(c.With))
				qp.MapEntry(ma, "can", qp.String(c.Can))
				if c.Nb != nil {
					qp.MapEntry(ma, "nb", qp.Node(c.Nb))
				}
			}))
		}
	}))
	if d.Expiration == nil {
		qp.MapEntry(ma, "exp", qp.Null())
	} else {
		qp.MapEntry(ma, "exp", qp.Int(*d.Expiration))
	}
	if len(d.Facts) > 0 {
		qp.MapEntry(ma, "fct", qp.List(int64(len(d.Facts)), func(la datamodel.ListAssembler) {
			for _, f := range d.Facts {
				qp.ListEntry(la, qp.Node(f))
			}
		}))
	}
	if d.Nonce != nil && *d.Nonce != "" {
		qp.MapEntry(ma, "nnc", qp.String(*d.Nonce))
	}
	if d.NotBefore != nil && *d.NotBefore != 0 {
		qp.MapEntry(ma, "nbf", qp.Int(*d.NotBefore))
	}
}

// Encode returns the UCAN block, and sets d.CID to its CID.
func (d *Delegation) Encode() (ipldutil.Block, error) {
	n, err := d.Node()
	if err != nil {
		return ipldutil.Block{}, fmt.Errorf("encode ucan: %w", err)
	}
	b, err := ipldutil.EncodeBlock(n)
	if err != nil {
		return ipldutil.Block{}, err
	}
	d.CID = b.CID
	return b, nil
}

// SigningPayload is what a UCAN signature covers, JWT style:
// base64url(dag-json header) "." base64url(dag-json payload).
func (d *Delegation) SigningPayload() ([]byte, error) {
	header, err := qp.BuildMap(basicnode.Prototype.Any, 3, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "alg", qp.String(d.Signature.Algorithm()))
		qp.MapEntry(ma, "typ", qp.String("JWT"))
		qp.MapEntry(ma, "ucv", qp.String(d.Version))
	})
	if err != nil {
		return nil, err
	}
	payload, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "iss", qp.String(d.Issuer))
		qp.MapEntry(ma, "aud", qp.String(d.Audience))
		d.payloadFields(ma)
		qp.MapEntry(ma, "prf", qp.List(int64(len(d.Proofs)), func(la datamodel.ListAssembler) {
			for _, p := range d.Proofs {
				qp.ListEntry(la, qp.String(p.String()))
			}
		}))
	})
	if err != nil {
		return nil, err
	}
	var h, p bytes.Buffer
	if err := dagjson.Encode(header, &h); err != nil {
		return nil, err
	}
	if err := dagjson.Encode(payload, &p); err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	return []byte(enc.EncodeToString(h.Bytes()) + "." + enc.EncodeToString(p.Bytes())), nil
}

// Sign sets an EdDSA signature by key, which must be the issuer's.
func (d *Delegation) Sign(key ed25519.PrivateKey) error {
	d.Signature = EdDSA(make([]byte, ed25519.SignatureSize))
	payload, err := d.SigningPayload()
	if err != nil {
		return fmt.Errorf("sign ucan: %w", err)
	}
	d.Signature = EdDSA(ed25519.Sign(key, payload))
	return nil
}

// ErrBadSignature is matched when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verify checks an EdDSA signature of a did:key ed25519 issuer. Other
// issuers cannot be checked offline (did:web keys are not in the UCAN).
func (d *Delegation) Verify() error {
	payload, err := d.SigningPayload()
	if err != nil {
		return err
	}
	return verifyEd25519(d.Issuer, d.Signature, payload)
}

func verifyEd25519(did string, sig Signature, payload []byte) error {
	if sig.Algorithm() != "EdDSA" {
		return fmt.Errorf("cannot verify a %s signature", sig.Algorithm())
	}
	b, err := ParseDID(did)
	if err != nil {
		return err
	}
	code, n, err := varint.FromUvarint(b)
	if err != nil || code != 0xed || len(b)-n != ed25519.PublicKeySize {
		return fmt.Errorf("issuer %s is not an ed25519 did:key", did)
	}
	if !ed25519.Verify(ed25519.PublicKey(b[n:]), payload, sig.Raw) {
		return ErrBadSignature
	}
	return nil
}

// DIDKey is the did:key of an ed25519 public key.
func DIDKey(pub ed25519.PublicKey) string {
	did, _ := FormatDID(append(varint.ToUvarint(0xed), pub...))
	return did
}

// delegationJSON is the rendering of DESIGN.md, in its key order.
type delegationJSON struct {
	CID          string            `json:"cid"`
	Version      string            `json:"version"`
	Issuer       string            `json:"issuer"`
	Audience     string            `json:"audience"`
	Capabilities []capabilityJSON  `json:"capabilities"`
	Expiration   *int64            `json:"expiration"`
	NotBefore    *int64            `json:"notBefore"`
	Nonce        *string           `json:"nonce"`
	Facts        []json.RawMessage `json:"facts"`
	Proofs       []string          `json:"proofs"`
	Signature    signatureJSON     `json:"signature"`
}

type capabilityJSON struct {
	With string          `json:"with"`
	Can  string          `json:"can"`
	Nb   json.RawMessage `json:"nb"`
}

type signatureJSON struct {
	Algorithm string `json:"algorithm"`
	Bytes     string `json:"bytes"` // standard base64, unpadded, as dag-json writes bytes
}

// JSONValue is the delegation in its rendered shape.
func (d *Delegation) JSONValue() (any, error) {
	out := delegationJSON{
		CID: d.CID.String(), Version: d.Version, Issuer: d.Issuer, Audience: d.Audience,
		Capabilities: make([]capabilityJSON, 0, len(d.Capabilities)),
		Expiration:   d.Expiration, NotBefore: d.NotBefore, Nonce: d.Nonce,
		Facts:     make([]json.RawMessage, 0, len(d.Facts)),
		Proofs:    render.CIDs(d.Proofs),
		Signature: signatureJSON{Algorithm: d.Signature.Algorithm(), Bytes: base64.RawStdEncoding.EncodeToString(d.Signature.Raw)},
	}
	for _, c := range d.Capabilities {
		nb, err := render.Node(c.Nb)
		if err != nil {
			return nil, err
		}
		out.Capabilities = append(out.Capabilities, capabilityJSON{With: c.With, Can: c.Can, Nb: nb})
	}
	for _, f := range d.Facts {
		fj, err := render.Node(f)
		if err != nil {
			return nil, err
		}
		out.Facts = append(out.Facts, fj)
	}
	return out, nil
}

// JSON renders the delegation as the mount shows it.
func (d *Delegation) JSON() ([]byte, error) {
	v, err := d.JSONValue()
	if err != nil {
		return nil, err
	}
	return render.JSON(v)
}
