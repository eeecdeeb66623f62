package blobstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// Name is a blob's canonical name: multibase base32 of the multihash,
// lower-case, unpadded, without the leading 'b' (Piri's flatfs key).
func Name(digest mh.Multihash) string {
	s, _ := multibase.Encode(multibase.Base32, digest)
	return s[1:]
}

// Base58 is the multihash in base58btc without a multibase prefix ("Qm…").
func Base58(digest mh.Multihash) string { return digest.B58String() }

// maxName bounds accepted names (a 512-bit digest is ~110 characters).
const maxName = 512

// ErrBadName is matched by names that denote no multihash.
var ErrBadName = errors.New("not a multihash name")

// ParseName accepts every way an operator may name a blob: the canonical
// b32 name, the same upper-case, a base58btc multihash with or without its
// 'z' prefix, and any CID (meaning its multihash). Only well-formed
// multihashes of known hash functions are accepted.
func ParseName(name string) (mh.Multihash, error) {
	if name == "" || len(name) > maxName {
		return nil, fmt.Errorf("%w: %q", ErrBadName, truncate(name))
	}
	if _, d, err := multibase.Decode("b" + strings.ToLower(name)); err == nil && known(d) {
		return d, nil
	}
	if c, err := cid.Decode(name); err == nil && known(c.Hash()) {
		return c.Hash(), nil
	}
	b58 := strings.TrimPrefix(name, "z")
	if d, err := mh.FromB58String(b58); err == nil && known(d) {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrBadName, truncate(name))
}

// known reports whether d is a valid multihash whose function is
// registered, so a random string that happens to decode is not taken for
// a digest.
func known(d []byte) bool {
	code, n, err := varint.FromUvarint(d)
	if err != nil {
		return false
	}
	length, m, err := varint.FromUvarint(d[n:])
	if err != nil || length != uint64(len(d)-n-m) {
		return false
	}
	_, ok := mh.Codes[code]
	return ok
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
