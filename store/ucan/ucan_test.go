package ucan_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func nbMap(t *testing.T) datamodel.Node {
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "size", qp.Int(1<<40))
		qp.MapEntry(ma, "digest", qp.Bytes([]byte{1, 2, 3}))
		qp.MapEntry(ma, "cause", qp.Link(ipldutil.Link(cid.MustParse("bafyreibo6nqtvp67daj7dkmeb5c2n6bg5bunxdmxq3lghtp3pmjtzpzfma"))))
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDelegationRoundTrip(t *testing.T) {
	issuer := key(1)
	exp := int64(1763415564968) // > 2^32: JS milliseconds
	nonce := "n1"
	nbf := int64(1700000000)
	d := &ucan.Delegation{
		Version:  ucan.Version,
		Issuer:   ucan.DIDKey(issuer.Public().(ed25519.PublicKey)),
		Audience: "did:web:upload.storacha.network",
		Capabilities: []ucan.Capability{
			{With: "did:key:z6Mkspace", Can: "blob/allocate", Nb: nbMap(t)},
			{With: "did:web:x", Can: "no/caveats"},
		},
		Expiration: &exp, NotBefore: &nbf, Nonce: &nonce,
		Facts:  []datamodel.Node{nbMap(t)},
		Proofs: []cid.Cid{cid.MustParse("bafyreia63ftenj6q7jocoojl7nfbtuzqzru6sf7jvspencuwt6an7pus6u")},
	}
	if err := d.Sign(issuer); err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	archive, err := ucan.EncodeDelegationArchive(d)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := ucan.DecodeDelegationArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := d.JSON()
	have, _ := got.JSON()
	if !bytes.Equal(want, have) {
		t.Fatalf("round trip:\n%s\nvs\n%s", want, have)
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("decoded signature: %v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(have, &v); err != nil {
		t.Fatal(err)
	}
	caps := v["capabilities"].([]any)
	if caps[1].(map[string]any)["nb"] != nil {
		t.Errorf("absent nb rendered as %v", caps[1])
	}
	nb := caps[0].(map[string]any)["nb"].(map[string]any)
	if nb["size"].(float64) != 1<<40 || nb["cause"].(map[string]any)["/"] == nil || nb["digest"].(map[string]any)["/"].(map[string]any)["bytes"] != "AQID" {
		t.Errorf("nb rendered as %v", nb)
	}
	if v["expiration"].(float64) != float64(exp) {
		t.Errorf("expiration %v", v["expiration"])
	}

	// Tampering breaks the signature.
	got.Audience = "did:web:evil"
	if err := got.Verify(); !errors.Is(err, ucan.ErrBadSignature) {
		t.Errorf("tampered delegation verified: %v", err)
	}
}

func TestMailtoAbsentee(t *testing.T) {
	d := &ucan.Delegation{
		Version: ucan.Version, Issuer: "did:mailto:example.com:alice", Audience: "did:web:up.storacha.network",
		Capabilities: []ucan.Capability{{With: "did:mailto:example.com:alice", Can: "*"}},
		Signature:    ucan.Absentee(),
	}
	block, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(block.Data, []byte{0x80, 0xa0, 0x03, 0x00}) {
		t.Errorf("absentee varsig not 80a00300")
	}
	got, err := ucan.DecodeDelegation(block.CID, block.Data)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := got.JSON()
	if got.Issuer != "did:mailto:example.com:alice" || !strings.Contains(string(js), `"algorithm": "absentee"`) || !strings.Contains(string(js), `"expiration": null`) {
		t.Fatalf("mailto delegation:\n%s", js)
	}
}

func TestPrincipals(t *testing.T) {
	for _, did := range []string{
		"did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
		"did:web:up.storacha.network",
		"did:mailto:outlook.com:natalie.bravo",
		"did:example:alice",
	} {
		b, err := ucan.ParseDID(did)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ucan.FormatDID(b)
		if err != nil || back != did {
			t.Errorf("%s → %x → %s, %v", did, b, back, err)
		}
	}
	// every did:key multicodec of ucan-format.md
	for _, prefix := range [][]byte{{0xed, 0x01}, {0x85, 0x24}, {0x80, 0x24}, {0x81, 0x24}, {0x82, 0x24}, {0xe7, 0x01}, {0xea, 0x01}, {0xeb, 0x01}} {
		did, err := ucan.FormatDID(append(prefix, bytes.Repeat([]byte{7}, 33)...))
		if err != nil || !strings.HasPrefix(did, "did:key:z") {
			t.Errorf("key %x: %s %v", prefix, did, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x01, 0x02}, {0x9d, 0x1a}} {
		if did, err := ucan.FormatDID(bad); err == nil {
			t.Errorf("%x formatted as %s", bad, did)
		}
	}
}

// TestCARTolerance: block order and duplicates do not matter.
func TestCARTolerance(t *testing.T) {
	issuer := key(2)
	d := &ucan.Delegation{Version: ucan.Version, Issuer: ucan.DIDKey(issuer.Public().(ed25519.PublicKey)),
		Audience: "did:web:a", Capabilities: []ucan.Capability{{With: "did:web:a", Can: "x/y"}}}
	if err := d.Sign(issuer); err != nil {
		t.Fatal(err)
	}
	u, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := ucan.EncodeDelegationArchive(d)
	c, _ := ucan.ReadCAR(archive)
	root := c.Roots[0]
	variant := ipldutil.Block{CID: root, Data: c.Blocks[root]}
	// variant first, the UCAN twice, an unrelated block in between
	other := ipldutil.Block{CID: ipldutil.CBORCID([]byte{0xa0}), Data: []byte{0xa0}}
	shuffled := writeRaw(t, root, []ipldutil.Block{variant, u, other, u})
	got, _, err := ucan.DecodeDelegationArchive(shuffled)
	if err != nil || got.CID != u.CID {
		t.Fatalf("shuffled archive: %v", err)
	}
}

// writeRaw writes a CAR without WriteCAR's de-duplication.
func writeRaw(t *testing.T, root cid.Cid, blocks []ipldutil.Block) []byte {
	head, err := ucan.WriteCAR([]cid.Cid{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		sec := append(b.CID.Bytes(), b.Data...)
		head = append(head, uvarint(len(sec))...)
		head = append(head, sec...)
	}
	return head
}

func uvarint(n int) []byte {
	var out []byte
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	return append(out, byte(n))
}

func TestCorruptInputs(t *testing.T) {
	issuer := key(3)
	d := &ucan.Delegation{Version: ucan.Version, Issuer: ucan.DIDKey(issuer.Public().(ed25519.PublicKey)),
		Audience: "did:web:a", Capabilities: []ucan.Capability{{With: "did:web:a", Can: "x/y"}}}
	d.Sign(issuer)
	archive, _ := ucan.EncodeDelegationArchive(d)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"truncated": archive[:len(archive)-5],
		"flipped":   append(append([]byte{}, archive[:len(archive)-3]...), archive[len(archive)-3]^0xff, archive[len(archive)-2], archive[len(archive)-1]),
		"garbage":   []byte("this is not a car"),
	} {
		if _, _, err := ucan.DecodeDelegationArchive(data); err == nil {
			t.Errorf("%s archive decoded", name)
		}
		if _, err := ucan.DecodeReceiptCAR(data); err == nil {
			t.Errorf("%s receipt decoded", name)
		}
	}
}
