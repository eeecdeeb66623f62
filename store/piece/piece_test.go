package piece_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	commcid "github.com/filecoin-project/go-fil-commcid"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/piece"
)

// The commP of n bytes of 0xCC is the library's own published vector
// (as a piece CID v1); the piece CID v2 holds that root, the padding
// and the tree height (FRC-0069).
func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/0xCC.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Split(sc.Text(), ",")
		size, _ := strconv.ParseUint(fields[0], 10, 64)
		if size < piece.MinSize {
			continue // the library hashes them; Piri gives them no commP
		}
		paddedWant, _ := strconv.ParseUint(fields[1], 10, 64)
		v1, err := cid.Decode(fields[2])
		if err != nil {
			t.Fatal(err)
		}
		root, err := commcid.CIDToDataCommitmentV1(v1)
		if err != nil {
			t.Fatal(err)
		}
		pc, padded, err := piece.Of(bytes.NewReader(bytes.Repeat([]byte{0xcc}, int(size))))
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if padded != paddedWant {
			t.Errorf("%d bytes: padded %d, want %d", size, padded, paddedWant)
		}
		if pc.Type() != cid.Raw || pc.Prefix().MhType != 0x1011 {
			t.Fatalf("%d bytes: %s is no piece CID v2", size, pc)
		}
		d, _ := mh.Decode(pc.Hash())
		padding, n := binary.Uvarint(d.Digest)
		height := d.Digest[n]
		if !bytes.Equal(d.Digest[n+1:], root) || padding != padded/128*127-size || 32<<height != padded {
			t.Errorf("%d bytes: digest %x: padding %d, height %d, root %x; want root %x", size, d.Digest, padding, height, d.Digest[n+1:], root)
		}
		payload, p2, err := piece.Sizes(pc)
		if err != nil || payload != size || p2 != padded {
			t.Errorf("%d bytes: Sizes %d %d %v", size, payload, p2, err)
		}
	}
	if _, _, err := piece.Of(bytes.NewReader(make([]byte, 126))); !errors.Is(err, piece.ErrTooSmall) {
		t.Errorf("126 bytes: %v", err)
	}
}
