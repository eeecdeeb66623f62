package ucan_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/store/ucan"
)

type wantDelegation struct {
	file, ucan, iss, aud string
	caps                 []string // "can with"
	nb                   string   // rendered nb of the first capability
	exp                  string   // rendered expiration
	prf                  []string
	verifies             bool
}

// The values come from EXPECTED.md, which was cross-checked with
// go-ucanto itself.
var delegations = []wantDelegation{
	{file: "go-ucanto_delegationnonb.car", ucan: "bafyreieftz7fmonhkvak6cibt7c5qewkxbf565jjqcysed5rjes46v2skm",
		iss: "did:key:z6MkpveRpPySqSVXyhAmWbyQLdY9w5noKr1Ff2MX8P9htje9", aud: "did:example:alice",
		caps: []string{"do/something did:key:123456789"}, nb: "null", exp: "1750277501", verifies: true},
	{file: "freeway_gateway-validator-proof_production.car", ucan: "bafyreieurq7zuzsttqtrnz65jfgnlwu6jgftj5o4r6wmxvji7gbpsne2ue",
		iss: "did:web:w3s.link", aud: "did:web:up.storacha.network",
		caps: []string{"ucan/attest did:web:w3s.link"}, nb: "null", exp: "null"},
	{file: "freeway_gateway-validator-proof_staging.car", ucan: "bafyreih4fuijtqgdd5gvsrvu2x6om7i2k4motz4katj7dp2zgg7xnq4oam",
		iss: "did:web:staging.w3s.link", aud: "did:web:staging.up.storacha.network",
		caps: []string{"ucan/attest did:web:staging.w3s.link"}, nb: "null", exp: "null"},
	{file: "smelt_egress-tracking-proof.car", ucan: "bafyreibtnvvhrasacqxs7jy4wkwekdkpe2seeqke6e624k3geflk6rso3m",
		iss: "did:web:etracker", aud: "did:web:delegator",
		caps: []string{"egress/track did:web:etracker"}, nb: "{}", exp: "null"},
	{file: "smelt_indexing-service-proof.car", ucan: "bafyreia63ftenj6q7jocoojl7nfbtuzqzru6sf7jvspencuwt6an7pus6u",
		iss: "did:web:indexer", aud: "did:web:delegator",
		caps: []string{"claim/cache did:web:indexer"}, nb: "{}", exp: "null"},
	{file: "smelt_piri-0-proof.car", ucan: "bafyreifgcgokwlc4otifkbqmhpv66fhpcjtm6wnn5lwnlivyjtcu5eabvi",
		iss: "did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U", aud: "did:web:upload",
		caps: []string{
			"blob/allocate did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
			"blob/accept did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
			"blob/replica/allocate did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
			"pdp/info did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
		}, nb: "{}", exp: "null", verifies: true},
	{file: "smelt_piri-0-config_indexer-proof.car", ucan: "bafyreibg3kshhrizljkjpljh4lwv5sesucjqfrpzpgd6jxcs2q67nx544i",
		iss: "did:web:delegator", aud: "did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
		caps: []string{"claim/cache did:web:indexer"}, nb: "{}", exp: "null",
		prf: []string{"bafyreia63ftenj6q7jocoojl7nfbtuzqzru6sf7jvspencuwt6an7pus6u"}},
	{file: "smelt_piri-0-config_etracker-proof.car", ucan: "bafyreihwnlrjqpo4lmcv35iouscskgymo4n44oxaa5qjyc7pnzh7jng7yi",
		iss: "did:web:delegator", aud: "did:key:z6MkotcsJ2daPwATtsV3rp6NAbwg2CiMZQy9XCuVQRRs4c7U",
		caps: []string{"space/egress/track did:web:etracker"}, nb: "{}", exp: "null",
		prf: []string{"bafyreibtnvvhrasacqxs7jy4wkwekdkpe2seeqke6e624k3geflk6rso3m"}},
}

func TestFixtureDelegations(t *testing.T) {
	for _, w := range delegations {
		t.Run(w.file, func(t *testing.T) {
			data := fixtures.Read(t, w.file)
			d, c, err := ucan.DecodeDelegationArchive(data)
			if err != nil {
				t.Fatal(err)
			}
			if d.CID.String() != w.ucan || d.Issuer != w.iss || d.Audience != w.aud || d.Version != "0.9.1" {
				t.Fatalf("decoded cid %s iss %s aud %s v %s", d.CID, d.Issuer, d.Audience, d.Version)
			}
			var caps []string
			for _, c := range d.Capabilities {
				caps = append(caps, c.Can+" "+c.With)
			}
			if strings.Join(caps, "\n") != strings.Join(w.caps, "\n") {
				t.Errorf("capabilities %q, want %q", caps, w.caps)
			}
			var rendered struct {
				Capabilities []struct{ Nb json.RawMessage }
				Expiration   json.RawMessage
				Proofs       []string
				CID          string
				Signature    struct{ Algorithm string }
			}
			js, err := d.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(js, &rendered); err != nil {
				t.Fatalf("rendered JSON does not parse: %v\n%s", err, js)
			}
			if string(rendered.Capabilities[0].Nb) != w.nb || string(rendered.Expiration) != w.exp || rendered.CID != w.ucan {
				t.Errorf("rendered nb %s exp %s cid %s; want %s %s", rendered.Capabilities[0].Nb, rendered.Expiration, rendered.CID, w.nb, w.exp)
			}
			if strings.Join(rendered.Proofs, ",") != strings.Join(w.prf, ",") {
				t.Errorf("proofs %v, want %v", rendered.Proofs, w.prf)
			}
			if rendered.Signature.Algorithm != "EdDSA" {
				t.Errorf("signature algorithm %s", rendered.Signature.Algorithm)
			}
			for _, p := range d.Proofs { // chains carry their proofs
				if _, ok := c.Blocks[p]; !ok {
					t.Errorf("proof %s not in the archive", p)
				}
			}
			if w.verifies {
				if err := d.Verify(); err != nil {
					t.Errorf("signature: %v", err)
				}
			}
			// Re-encoding yields the very same block.
			b, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if b.CID.String() != w.ucan {
				t.Errorf("re-encoded UCAN is %s, want %s", b.CID, w.ucan)
			}
			if js2, _ := d.JSON(); !bytes.Equal(js, js2) {
				t.Error("rendering twice gave different bytes")
			}
		})
	}
}

// TestFixtureTextForm: the .txt files hold the multibase CID form, whose
// identity multihash is the CAR itself.
func TestFixtureTextForm(t *testing.T) {
	for _, name := range []string{"freeway_gateway-validator-proof_production", "smelt_piri-0-proof"} {
		txt := strings.TrimSpace(string(fixtures.Read(t, name+".txt")))
		_, raw, err := multibase.Decode(txt)
		if err != nil {
			t.Fatal(err)
		}
		_, c, err := cid.CidFromBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := mh.Decode(c.Hash())
		if err != nil || dec.Code != mh.IDENTITY || c.Type() != 0x0202 {
			t.Fatalf("%s: not a car/identity CID: %v", name, err)
		}
		if !bytes.Equal(dec.Digest, fixtures.Read(t, name+".car")) {
			t.Fatalf("%s: text form does not hold the CAR", name)
		}
	}
}

type wantReceipt struct {
	cid, ran, can, iss string
	okKeys             []string
}

var receipts = []wantReceipt{
	{"bafyreibl67tvjaoqtaavedcy23mttzk6ii7kjrzeyuhs2bukrcbslndg4a", "bafyreibo6nqtvp67daj7dkmeb5c2n6bg5bunxdmxq3lghtp3pmjtzpzfma",
		"filecoin/accept", "did:web:web3.storage", []string{"aggregate", "aux", "inclusion", "piece"}},
	{"bafyreigaquodlvxcidxmgjweiynybi2et5n4ipjg7ei7xdbc7jrcarc3d4", "bafyreihb4baaeu3xicylhcnppvrjmcahchzjkhqors2ccxcpd2arin5ili",
		"admin/provider/weight/set", "did:web:upload", nil},
	{"bafyreiea4yiqedqwx6ys2uohnne3vl5pf3zht2ybvt6yaakr3md2kbhupu", "bafyreigmibhtnn7wsl2ksobgioetqtvyba4lxj4jdp7x74oqzggltjt4ma",
		"admin/provider/register", "did:web:upload", nil},
}

func checkReceipt(t *testing.T, r *ucan.Receipt, w wantReceipt) {
	t.Helper()
	if r.CID.String() != w.cid || r.Ran.String() != w.ran || r.IssuerDID() != w.iss {
		t.Fatalf("receipt %s ran %s iss %s", r.CID, r.Ran, r.IssuerDID())
	}
	if r.Invocation == nil || r.Invocation.Capabilities[0].Can != w.can {
		t.Fatalf("invocation %+v", r.Invocation)
	}
	var keys []string
	for it := r.Ok.MapIterator(); it != nil && !it.Done(); {
		k, _, _ := it.Next()
		s, _ := k.AsString()
		keys = append(keys, s)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != strings.Join(w.okKeys, ",") || r.Error != nil {
		t.Errorf("out.ok keys %v, want %v", keys, w.okKeys)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		CID        string
		Ran        string
		Invocation struct{ Issuer string }
		Out        map[string]json.RawMessage
		Fx         struct {
			Fork []string
			Join *string
		}
	}
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("receipt JSON: %v\n%s", err, js)
	}
	if v.CID != w.cid || v.Ran != w.ran || v.Out["ok"] == nil || v.Fx.Fork == nil || v.Fx.Join != nil {
		t.Errorf("rendered receipt:\n%s", js)
	}
}

func TestFixtureReceipts(t *testing.T) {
	for _, w := range receipts {
		t.Run(w.cid, func(t *testing.T) {
			stored := fixtures.Read(t, "generated/"+w.cid+".receiptstore.car")
			r, err := ucan.DecodeReceiptCAR(stored)
			if err != nil {
				t.Fatal(err)
			}
			checkReceipt(t, r, w)
			b, err := r.Encode()
			if err != nil || b.CID.String() != w.cid {
				t.Errorf("re-encoded receipt %s, %v", b.CID, err)
			}
			again, err := ucan.EncodeReceiptCAR(r)
			if err != nil || !bytes.Equal(again, stored) {
				t.Errorf("re-encoded receiptstore CAR differs (%v)", err)
			}

			arch, err := ucan.DecodeReceiptArchive(fixtures.Read(t, "generated/"+w.cid+".archive.car"))
			if err != nil {
				t.Fatal(err)
			}
			checkReceipt(t, arch, w)
			archived, err := ucan.EncodeReceiptArchive(r)
			if err != nil || !bytes.Equal(archived, fixtures.Read(t, "generated/"+w.cid+".archive.car")) {
				t.Errorf("re-encoded archive differs (%v)", err)
			}
		})
	}
}

// TestAgentMessages finds the receipts inside real agent-message CARs.
func TestAgentMessages(t *testing.T) {
	for file, w := range map[string]wantReceipt{
		"upload-service_workflow.car":                       receipts[0],
		"smelt_agent-message_receipt_weight-set.car":        receipts[1],
		"smelt_agent-message_receipt_provider-register.car": receipts[2],
	} {
		c, err := ucan.ReadCAR(fixtures.Read(t, file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ucan.DecodeReceipt(cid.MustParse(w.cid), c.Blocks)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		checkReceipt(t, r, w)
	}
}

func TestMissingInvocationRendersLink(t *testing.T) {
	c, err := ucan.ReadCAR(fixtures.Read(t, "generated/"+receipts[1].cid+".receiptstore.car"))
	if err != nil {
		t.Fatal(err)
	}
	delete(c.Blocks, cid.MustParse(receipts[1].ran))
	r, err := ucan.DecodeReceipt(cid.MustParse(receipts[1].cid), c.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := r.JSON()
	if r.Invocation != nil || !bytes.Contains(js, []byte(`"invocation": null`)) || !bytes.Contains(js, []byte(receipts[1].ran)) {
		t.Fatalf("receipt without its invocation block:\n%s", js)
	}
	delete(c.Blocks, cid.MustParse(receipts[1].cid))
	if _, err := ucan.DecodeReceipt(cid.MustParse(receipts[1].cid), c.Blocks); err == nil {
		t.Fatal("a receipt whose own block is missing decoded")
	}
}
