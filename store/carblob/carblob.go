// Package carblob says what a blob's bytes are, as Storacha's clients
// write them: a CAR shard of an upload (its roots, its blocks), the
// sharded DAG index of an upload (a CAR whose one root is an
// "index/sharded/dag@0.1" block), or anything else. One read of a blob's
// first bytes decides (Classify); an index is decoded whole
// (DecodeIndex); a shard's block table comes from one streaming scan
// (Scan). Nothing here trusts its input: a truncated CAR, a header that
// lies about its length or an index that does not decode is an error or
// "other", never a crash or a hang.
package carblob

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-varint"

	"github.com/storacha/storefs/store/ipldutil"
)

// Kind is what a blob is.
type Kind int

const (
	// Other: not a CARv1 (a filepack shard, or anything else).
	Other Kind = iota
	// Shard: a CARv1 that is not an index: an upload's shard.
	Shard
	// Index: a CARv1 whose one root is a sharded DAG index.
	Index
)

func (k Kind) String() string {
	switch k {
	case Shard:
		return "shard"
	case Index:
		return "index"
	}
	return "other"
}

// HeadSize is how many of a blob's first bytes Classify usually needs.
const HeadSize = 4096

// maxHeader bounds a CAR header: the JS client writes one root, guppy
// none; a header of more than this is not one of theirs.
const maxHeader = 64 << 10

// maxIndexRoot bounds the root block of an index: a link per shard of an
// upload (≈ 40 bytes each).
const maxIndexRoot = 4 << 20

// Head is what a blob's first bytes say it is.
type Head struct {
	Kind  Kind
	Roots []cid.Cid
	// DataOffset is where the first section starts: the header's length.
	DataOffset int64
}

// ErrShort is matched by the error of a head too short to decide: Need
// says how many first bytes will do.
var ErrShort = errors.New("head too short")

// ShortError asks for more of a blob's first bytes.
type ShortError struct{ Need int64 }

func (e *ShortError) Error() string {
	return fmt.Sprintf("%v: need the first %d bytes", ErrShort, e.Need)
}
func (e *ShortError) Is(target error) bool { return target == ErrShort }

// Classify says what a blob of size bytes is from its first bytes (head,
// at most the whole blob). A *ShortError asks for more of them; any other
// answer is final.
func Classify(head []byte, size int64) (Head, error) {
	hlen, n, err := varint.FromUvarint(head)
	if err != nil || hlen == 0 || hlen > maxHeader {
		if len(head) < varint.MaxLenUvarint63 && int64(len(head)) < size && err != nil {
			return Head{}, &ShortError{Need: min(size, HeadSize)}
		}
		return Head{Kind: Other}, nil
	}
	dataOff := int64(n) + int64(hlen)
	if dataOff > size {
		return Head{Kind: Other}, nil // the header lies about its length
	}
	if int64(len(head)) < dataOff {
		return Head{}, &ShortError{Need: dataOff}
	}
	roots, ok := decodeHeader(head[n:dataOff])
	if !ok {
		return Head{Kind: Other}, nil
	}
	h := Head{Kind: Shard, Roots: roots, DataOffset: dataOff}
	if len(roots) != 1 || roots[0].Prefix().Codec != cid.DagCBOR || dataOff == size {
		return h, nil
	}
	// An index's root block is its first section.
	rest := head[dataOff:]
	slen, sn, err := varint.FromUvarint(rest)
	if err != nil {
		if int64(len(head)) < size && len(rest) < varint.MaxLenUvarint63 {
			return Head{}, &ShortError{Need: min(size, dataOff+varint.MaxLenUvarint63)}
		}
		return h, nil
	}
	end := dataOff + int64(sn) + int64(slen)
	if slen > maxIndexRoot || end > size {
		return h, nil
	}
	if int64(len(head)) < end {
		return Head{}, &ShortError{Need: end}
	}
	section := rest[sn : int64(sn)+int64(slen)]
	cn, c, err := cid.CidFromBytes(section)
	if err != nil || !c.Equals(roots[0]) {
		return h, nil
	}
	if _, err := decodeIndexRoot(c, section[cn:]); err == nil {
		h.Kind = Index
	}
	return h, nil
}

// decodeHeader reads a CARv1 header: {roots: [Link], version: 1}.
func decodeHeader(b []byte) ([]cid.Cid, bool) {
	n, err := ipldutil.DecodeCBOR(b)
	if err != nil {
		return nil, false
	}
	v, err := ipldutil.Int(n, "version")
	if err != nil || v != 1 {
		return nil, false
	}
	roots, err := ipldutil.LinkList(n, "roots")
	if err != nil {
		return nil, false
	}
	return roots, true
}

// BlockMatches is whether data are the bytes of block c: they hash to
// its multihash.
func BlockMatches(c cid.Cid, data []byte) bool {
	got, err := c.Prefix().Sum(data)
	return err == nil && got.Equals(c)
}
