package ucan

import (
	"fmt"

	"github.com/multiformats/go-varint"
)

// Signature is a varsig: varint(code) ‖ varint(len) ‖ raw [‖ name].
type Signature struct {
	Code uint64
	Raw  []byte
	Name string // NON_STANDARD only: the algorithm's name
}

const codeNonStandard = 0xd000

var sigAlgorithms = map[uint64]string{
	0xd0ed:   "EdDSA",
	0xd01205: "RS256",
	0xd01200: "ES256",
	0xd01201: "ES384",
	0xd01202: "ES512",
	0xd0e7:   "ES256K",
	0xd0ea:   "BLS12381G1",
	0xd0eb:   "BLS12381G2",
	0xd191:   "EIP191",
}

// Algorithm names the signature's algorithm. An empty NON_STANDARD
// signature is the absentee signature of a did:mailto issuer.
func (s Signature) Algorithm() string {
	if name, ok := sigAlgorithms[s.Code]; ok {
		return name
	}
	if s.Code == codeNonStandard {
		if s.Name != "" {
			return s.Name
		}
		if len(s.Raw) == 0 {
			return "absentee"
		}
		return "NON_STANDARD"
	}
	return fmt.Sprintf("0x%x", s.Code)
}

// DecodeSignature parses varsig bytes. Unknown codes are kept, not refused:
// a record with a new algorithm still renders.
func DecodeSignature(b []byte) (Signature, error) {
	code, n, err := varint.FromUvarint(b)
	if err != nil {
		return Signature{}, fmt.Errorf("signature: %w", err)
	}
	size, m, err := varint.FromUvarint(b[n:])
	if err != nil {
		return Signature{}, fmt.Errorf("signature: %w", err)
	}
	rest := b[n+m:]
	if size > uint64(len(rest)) {
		return Signature{}, fmt.Errorf("signature: %d bytes declared, %d present", size, len(rest))
	}
	s := Signature{Code: code, Raw: rest[:size]}
	if code == codeNonStandard {
		s.Name = string(rest[size:])
	}
	return s, nil
}

// Encode writes the varsig bytes.
func (s Signature) Encode() []byte {
	b := append(varint.ToUvarint(s.Code), varint.ToUvarint(uint64(len(s.Raw)))...)
	b = append(b, s.Raw...)
	if s.Code == codeNonStandard {
		b = append(b, s.Name...)
	}
	return b
}

// EdDSA wraps a raw ed25519 signature.
func EdDSA(raw []byte) Signature { return Signature{Code: 0xd0ed, Raw: raw} }
