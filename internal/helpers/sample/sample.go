// Package sample builds a realistic node's worth of data with the
// project's own encoders: blobs, the blob/allocate and blob/accept
// invocations a node receives and the receipts it issues, the allocation
// and acceptance records, a delegation, egress consolidations (new and
// legacy form) and a retrieval journal batch. Tests and the demo use it.
package sample

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/keystore"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/recordfield"
	"github.com/storacha/storefs/store/retrievaljournal"
	"github.com/storacha/storefs/store/ucan"
)

// Set is one node's sample data.
type Set struct {
	Blobs          map[string][]byte // by b32-encodable multihash bytes
	Allocations    []allocationstore.Allocation
	Acceptances    []acceptancestore.Acceptance
	Delegations    []*ucan.Delegation
	Receipts       []*ucan.Receipt
	Consolidations []consolidationstore.Consolidation // the last one is legacy
	// Retrievals are space/content/retrieve receipts: the retrieval
	// journal's. The last one is in the batch in progress.
	Retrievals []*ucan.Receipt
	NodeKey    ed25519.PrivateKey
}

// Node, Upload and Space are the principals of the sample.
const (
	Upload   = "did:web:upload.storacha.network"
	Etracker = "did:web:etracker.storacha.network"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// Node is the sample node's DID.
func Node() string { return ucan.DIDKey(key(1).Public().(ed25519.PublicKey)) }

// Space is the sample space's DID.
func Space() string { return ucan.DIDKey(key(2).Public().(ed25519.PublicKey)) }

// New builds the sample. It is the same every time.
func New() (*Set, error) {
	s := &Set{Blobs: map[string][]byte{}, NodeKey: key(1)}
	rng := rand.New(rand.NewChaCha8([32]byte{42}))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	contents := [][]byte{
		[]byte("hello world"),
		random,
		bytes.Repeat([]byte("storefs mounts a Piri node's store.\n"), 2000),
	}
	now := int64(1764000000)
	for i, data := range contents {
		digest, _ := mh.Sum(data, mh.SHA2_256, -1)
		s.Blobs[string(digest)] = data
		if err := s.addBlob(digest, int64(len(data)), now+int64(i)); err != nil {
			return nil, err
		}
	}
	if err := s.addDelegation(); err != nil {
		return nil, err
	}
	if err := s.addConsolidations(now); err != nil {
		return nil, err
	}
	for i, data := range contents {
		digest, _ := mh.Sum(data, mh.SHA2_256, -1)
		if err := s.addRetrieval(digest, 0, uint64(len(data)-1), fmt.Sprint("retrieve-", i)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// addRetrieval is a space/content/retrieve of bytes first..last of a
// blob, by the sample's space, and the node's receipt for it: nb {blob:
// {digest}, range: [first, last]}, as go-libstoracha's capability has it.
func (s *Set) addRetrieval(digest mh.Multihash, first, last uint64, nonce string) error {
	nb := must(qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "blob", qp.Map(1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "digest", qp.Bytes(digest))
		}))
		qp.MapEntry(ma, "range", qp.List(2, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Int(int64(first)))
			qp.ListEntry(la, qp.Int(int64(last)))
		}))
	}))
	inv := &ucan.Delegation{
		Version: ucan.Version, Issuer: Space(), Audience: Node(),
		Capabilities: []ucan.Capability{{With: Space(), Can: "space/content/retrieve", Nb: nb}},
		Nonce:        &nonce, Proofs: []cid.Cid{},
	}
	if err := inv.Sign(key(2)); err != nil {
		return err
	}
	if _, err := inv.Encode(); err != nil {
		return err
	}
	iss := Node()
	ok := must(qp.BuildMap(basicnode.Prototype.Any, 0, func(datamodel.MapAssembler) {}))
	r := &ucan.Receipt{Ran: inv.CID, Invocation: inv, Issuer: &iss, Ok: ok, Fork: []cid.Cid{}, Proofs: []cid.Cid{}}
	if err := r.Sign(s.NodeKey); err != nil {
		return err
	}
	if _, err := r.Encode(); err != nil {
		return err
	}
	s.Retrievals = append(s.Retrievals, r)
	return nil
}

func (s *Set) invocation(can string, nb datamodel.Node, nonce string) (*ucan.Delegation, error) {
	exp := int64(1900000000)
	inv := &ucan.Delegation{
		Version: ucan.Version, Issuer: Upload, Audience: Node(),
		Capabilities: []ucan.Capability{{With: Node(), Can: can, Nb: nb}},
		Expiration:   &exp, Nonce: &nonce, Proofs: []cid.Cid{},
	}
	// did:web keys are not in the UCAN; the sample signs with a stand-in.
	if err := inv.Sign(key(3)); err != nil {
		return nil, err
	}
	if _, err := inv.Encode(); err != nil {
		return nil, err
	}
	return inv, nil
}

func (s *Set) receipt(inv *ucan.Delegation, ok datamodel.Node) (*ucan.Receipt, error) {
	iss := Node()
	r := &ucan.Receipt{Ran: inv.CID, Invocation: inv, Issuer: &iss, Ok: ok, Fork: []cid.Cid{}, Proofs: []cid.Cid{}}
	if err := r.Sign(s.NodeKey); err != nil {
		return nil, err
	}
	if _, err := r.Encode(); err != nil {
		return nil, err
	}
	s.Receipts = append(s.Receipts, r)
	return r, nil
}

func must(n datamodel.Node, err error) datamodel.Node {
	if err != nil {
		panic(err) // only for literal, well-formed maps below
	}
	return n
}

func (s *Set) addBlob(digest mh.Multihash, size, at int64) error {
	space, _ := ucan.ParseDID(Space())
	nb := must(qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(space))
		qp.MapEntry(ma, "blob", recordfield.BlobNode(digest, size))
	}))
	alloc, err := s.invocation("blob/allocate", nb, fmt.Sprint("allocate-", at))
	if err != nil {
		return err
	}
	if _, err := s.receipt(alloc, must(qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "size", qp.Int(size))
	}))); err != nil {
		return err
	}
	s.Allocations = append(s.Allocations, allocationstore.Allocation{
		Space: Space(), Digest: digest, Size: size, Expires: at + 86400, Cause: alloc.CID,
	})

	accept, err := s.invocation("blob/accept", nb, fmt.Sprint("accept-", at))
	if err != nil {
		return err
	}
	pdp, err := s.invocation("pdp/accept", must(qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "blob", qp.Bytes(digest))
	})), fmt.Sprint("pdp-", at))
	if err != nil {
		return err
	}
	site := ipldutil.CBORCID([]byte(fmt.Sprint("location claim ", at)))
	if _, err := s.receipt(accept, must(qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "site", qp.Link(ipldutil.Link(site)))
	}))); err != nil {
		return err
	}
	s.Acceptances = append(s.Acceptances, acceptancestore.Acceptance{
		Space: Space(), Digest: digest, Size: size, ExecutedAt: at + 5, Cause: accept.CID,
		PDPAccept: &acceptancestore.Promise{Selector: ".out.ok", Link: pdp.CID},
	})
	return nil
}

func (s *Set) addDelegation() error {
	d := &ucan.Delegation{
		Version: ucan.Version, Issuer: Node(), Audience: Upload,
		Capabilities: []ucan.Capability{
			{With: Node(), Can: "blob/allocate", Nb: must(qp.BuildMap(basicnode.Prototype.Any, 0, func(datamodel.MapAssembler) {}))},
			{With: Node(), Can: "blob/accept"},
		},
		Proofs: []cid.Cid{},
	}
	if err := d.Sign(s.NodeKey); err != nil {
		return err
	}
	if _, err := d.Encode(); err != nil {
		return err
	}
	s.Delegations = append(s.Delegations, d)
	return nil
}

func (s *Set) addConsolidations(now int64) error {
	for i := range 2 {
		batch := ipldutil.CBORCID([]byte(fmt.Sprint("egress batch ", i)))
		track := &ucan.Delegation{
			Version: ucan.Version, Issuer: Node(), Audience: Etracker,
			Capabilities: []ucan.Capability{{With: Node(), Can: "space/egress/track", Nb: must(qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "receipts", qp.Link(ipldutil.Link(batch)))
				qp.MapEntry(ma, "endpoint", qp.String("https://piri.example/receipts/{cid}"))
			}))}},
			Proofs: []cid.Cid{},
		}
		exp := now + 3600
		track.Expiration = &exp
		if err := track.Sign(s.NodeKey); err != nil {
			return err
		}
		archive, err := ucan.EncodeDelegationArchive(track)
		if err != nil {
			return err
		}
		s.Consolidations = append(s.Consolidations, consolidationstore.Consolidation{
			Batch: batch, TrackInvocation: archive, Track: track,
			ConsolidateInvocation: ipldutil.CBORCID([]byte(fmt.Sprint("consolidate ", i))),
			Legacy:                i == 1,
		})
	}
	return nil
}

// Write stores the set. Legacy consolidations are written in the legacy
// form where the backend has one (LevelDB), else in the current form.
func (s *Set) Write(ctx context.Context, st *node.Stores) error {
	for digest, data := range s.Blobs {
		if err := st.Blobs.Put(ctx, mh.Multihash(digest), int64(len(data)), bytes.NewReader(data)); err != nil {
			return err
		}
	}
	for _, a := range s.Allocations {
		if err := st.Allocations.Put(ctx, a.ID(), a); err != nil {
			return err
		}
	}
	for _, a := range s.Acceptances {
		if err := st.Acceptances.Put(ctx, a.ID(), a); err != nil {
			return err
		}
	}
	for _, d := range s.Delegations {
		if err := st.Delegations.Put(ctx, d.CID.String(), d); err != nil {
			return err
		}
	}
	for _, r := range s.Receipts {
		if err := st.Receipts.Put(ctx, r); err != nil {
			return err
		}
	}
	for _, c := range s.Consolidations {
		var err error
		if c.Legacy && st.Consolidations.HasLegacyForm() {
			err = st.Consolidations.PutLegacy(ctx, c)
		} else {
			err = st.Consolidations.Store.Put(ctx, c.Batch.String(), c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteDataDir also writes what only a data dir holds: a keystore with the
// node's key (which storefs must never show) and a retrieval journal.
func (s *Set) WriteDataDir(ctx context.Context, dataDir string) error {
	ks, err := keystore.Open(filepath.Join(dataDir, keystore.Dir), false)
	if err != nil {
		return err
	}
	err = ks.Put(ctx, "identity", keystore.NewSecret(s.NodeKey.Seed()))
	ks.Close()
	if err != nil {
		return err
	}
	return s.WriteJournal(filepath.Join(dataDir, retrievaljournal.Dir))
}

// WriteJournal writes the retrievals as Piri's journal does in dir: a
// finished batch of all but the last, and the last in the batch in
// progress. It returns the finished batch's file name.
func (s *Set) WriteJournal(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	last := len(s.Retrievals) - 1
	batch, _, err := retrievaljournal.EncodeBatch(s.Retrievals[:last])
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, retrievaljournal.BatchName(batch)), batch, 0o644); err != nil {
		return err
	}
	wip, _, err := retrievaljournal.EncodeBatch(s.Retrievals[last:])
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, retrievaljournal.WIP), wip, 0o644)
}

// Populate builds the sample and writes all of it into a Piri data dir.
func Populate(ctx context.Context, dataDir string) (*Set, error) {
	set, err := New()
	if err != nil {
		return nil, err
	}
	// The old journal's consolidation LevelDB, for the legacy form.
	if err := os.MkdirAll(filepath.Join(dataDir, node.ConsolidationJournal), 0o755); err != nil {
		return nil, err
	}
	st, err := node.Open(ctx, node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		return nil, err
	}
	if err := set.Write(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	return set, set.WriteDataDir(ctx, dataDir)
}
