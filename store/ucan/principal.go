// Package ucan decodes and encodes what Piri stores of the UCAN world:
// UCAN 0.9.1 blocks (delegations and invocations), receipts, and the CAR
// archives that carry them, with go-ipld-prime (dag-cbor, dag-json) and
// go-car/v2. See docs/ucan-format.md for the wire format.
package ucan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-varint"
)

// codeNonKeyDID prefixes DIDs of any method other than did:key: the bytes
// that follow are the DID without its leading "did:".
const codeNonKeyDID = 0x0d1d

// keyCodes are the public-key multicodecs a did:key may carry.
var keyCodes = map[uint64]string{
	0xed:   "ed25519",
	0x1205: "rsa",
	0x1200: "p256",
	0x1201: "p384",
	0x1202: "p521",
	0xe7:   "secp256k1",
	0xea:   "bls12-381-g1",
	0xeb:   "bls12-381-g2",
}

// FormatDID turns principal bytes (iss, aud, space) into a DID string.
func FormatDID(b []byte) (string, error) {
	code, n, err := varint.FromUvarint(b)
	if err != nil {
		return "", fmt.Errorf("principal: %w", err)
	}
	if code == codeNonKeyDID {
		rest := string(b[n:])
		if rest == "" || strings.ContainsAny(rest, "\x00\n") {
			return "", errors.New("principal: malformed DID")
		}
		return "did:" + rest, nil
	}
	if _, ok := keyCodes[code]; !ok {
		return "", fmt.Errorf("principal: unknown multicodec 0x%x", code)
	}
	s, _ := multibase.Encode(multibase.Base58BTC, b)
	return "did:key:" + s, nil
}

// ParseDID is the inverse of FormatDID.
func ParseDID(did string) ([]byte, error) {
	if key, ok := strings.CutPrefix(did, "did:key:"); ok {
		enc, b, err := multibase.Decode(key)
		if err != nil || enc != multibase.Base58BTC {
			return nil, fmt.Errorf("did %q: not a base58btc did:key", did)
		}
		if _, err := FormatDID(b); err != nil {
			return nil, fmt.Errorf("did %q: %w", did, err)
		}
		return b, nil
	}
	rest, ok := strings.CutPrefix(did, "did:")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%q is not a DID", did)
	}
	return append(varint.ToUvarint(codeNonKeyDID), rest...), nil
}
