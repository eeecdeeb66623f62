package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	commcid "github.com/filecoin-project/go-fil-commcid"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/pool"
	aggwriter "github.com/storacha/storefs/internal/testsupport/aggregator"
	jobwriter "github.com/storacha/storefs/internal/testsupport/jobqueue"
	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/ucan"
)

// mkpdp writes a data dir of n blobs of size bytes in Piri's flatfs
// layout, all in one proof set of roots roots (n/roots subroots each),
// with PDP state as Piri v0.2.4 keeps it. With real, each blob's commP
// is computed; else its piece CID is derived from its digest (a check
// without --verify-commp reads no blob's bytes, and this is how a node of
// a million blobs is made in minutes).
func mkpdp(dir string, n, roots int, size int, real bool) error {
	fd, err := newFlatfs(dir)
	if err != nil {
		return err
	}
	pieces := make([]pdpstate.Piece, n)
	err = pool.Each(context.Background(), 4, count(n), func(ctx context.Context, i int) (struct{}, error) {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 'p'}).Read(data)
		var p pdpstate.Piece
		if real {
			var err error
			if p, err = pdpstate.PieceOf(data); err != nil {
				return struct{}{}, err
			}
		} else {
			p = derivedPiece(data)
		}
		pieces[i] = p
		return struct{}{}, fd.put(p.Digest, data)
	}, func(_ int, _ struct{}, err error) error { return err })
	if err != nil {
		return err
	}
	// Each blob accepted (LevelDB), as on a node: a check joins them.
	db, err := dsadapter.OpenLevelDB(filepath.Join(dir, recordkind.Acceptances.Dir), false)
	if err != nil {
		return err
	}
	accepts := acceptancestore.New(db, recordkind.Datastore)
	dids := spaceDIDs(100)
	for i, p := range pieces {
		cause := ipldutil.CBORCID(p.Digest)
		a := acceptancestore.Acceptance{Space: dids[i%len(dids)], Digest: p.Digest, Size: p.Size, ExecutedAt: 1764000000, Cause: cause,
			PDPAccept: &acceptancestore.Promise{Selector: ".out.ok", Link: cause}}
		if err := accepts.Put(context.Background(), a.ID(), a); err != nil {
			db.Close()
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	w, err := pdpstate.Create(dir)
	if err != nil {
		return err
	}
	defer w.Close()
	tx, err := w.DB().Begin()
	if err != nil {
		return err
	}
	for _, p := range pieces {
		if _, err := tx.Exec("INSERT INTO pdp_piece_mh_to_commp (mhash, size, commp) VALUES (?, ?, ?)", []byte(p.Digest), p.Size, p.CID.String()); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := w.AddProofSet(pdpstate.ProofSet{ID: 1, ProvingPeriod: 2880, ChallengeWindow: 60, ProveAt: 1}); err != nil {
		return err
	}
	// The last 1 % are on their way, as on a live node: half in an
	// aggregate waiting to be added, a quarter in the aggregator's buffer,
	// the rest lost (in no root, aggregate, buffer or queue).
	tail := n / 100
	inRoots := pieces[:n-tail]
	agg, err := aggwriter.Create(dir)
	if err != nil {
		return err
	}
	defer agg.Close()
	if tail > 0 {
		waiting := pieces[n-tail : n-tail+tail/2]
		subs, padded := pdpstate.Layout(waiting)
		root := pdpstate.RootCID(padded, "bench waiting")
		if err := agg.PutAggregate(aggwriter.FromLayout(root, padded, subs)); err != nil {
			return err
		}
		if err := agg.SetSubmission([]cid.Cid{root}); err != nil {
			return err
		}
		buffered := slices.Clone(pieces[n-tail+tail/2 : n-tail+tail*3/4])
		slices.SortStableFunc(buffered, func(a, b pdpstate.Piece) int { return int(int64(b.Padded) - int64(a.Padded)) })
		if err := agg.SetBuffer(buffered); err != nil {
			return err
		}
	}
	per := max(len(inRoots)/roots, 1)
	tx, err = w.DB().Begin()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO message_waits_eth (signed_tx_hash, tx_status, tx_success) VALUES ('0xbench', 'confirmed', 1)`); err != nil {
		return err
	}
	for r := 0; r*per < len(inRoots); r++ {
		subs, padded := pdpstate.Layout(inRoots[r*per : min((r+1)*per, len(inRoots))])
		rc := pdpstate.RootCID(padded, fmt.Sprint("bench ", r))
		// Piri keeps every aggregate it built, added or not.
		if err := agg.PutAggregate(aggwriter.FromLayout(rc, padded, subs)); err != nil {
			return err
		}
		for _, s := range subs {
			if _, err := tx.Exec(`INSERT INTO pdp_proofset_roots (proofset_id, root_id, subroot_offset, root, add_message_hash, add_message_index, subroot, subroot_offset_val, subroot_size)
				VALUES (1, ?, ?, ?, '0xbench', 0, ?, ?, ?)`, r, s.Offset, rc.String(), s.Piece.CID.String(), s.Offset, s.Piece.Padded); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// The job queues, with a job dead in each of the two queues a piece
	// passes, and one queued.
	jobs, err := jobwriter.Create(dir)
	if err != nil {
		return err
	}
	defer jobs.Close()
	if tail >= 4 {
		lost := pieces[n-1]
		for _, j := range []struct {
			task    string
			payload func() ([]byte, error)
			dead    *jobwriter.Dead
		}{
			{jobqueue.Commp, func() ([]byte, error) { return jobwriter.CommpPayload(lost.Digest) }, nil},
			{jobqueue.Aggregate, func() ([]byte, error) { return jobwriter.PiecePayload(pieces[n-2].CID) },
				&jobwriter.Dead{Reason: "max_retries", Error: "aggregating piece: bench"}},
		} {
			payload, err := j.payload()
			if err != nil {
				return err
			}
			if err := jobs.Add(j.task, payload, time.Unix(1764000000, 0), 1, j.dead); err != nil {
				return err
			}
		}
	}
	return nil
}

// derivedPiece names a blob's piece without computing its commP: a
// piece CID v2 of the blob's size whose root is derived from its digest.
func derivedPiece(data []byte) pdpstate.Piece {
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	root := sha256.Sum256(append([]byte("piece of "), d...))
	root[31] &= 0x3f
	c, err := commcid.DataCommitmentToPieceCidv2(root[:], uint64(len(data)))
	if err != nil {
		panic(err)
	}
	_, padded := padSizes(uint64(len(data)))
	return pdpstate.Piece{Digest: d, Size: int64(len(data)), CID: c, Padded: padded}
}

func padSizes(payload uint64) (uint8, uint64) {
	h, _, _ := commcid.PayloadSizeToV1TreeHeightAndPadding(payload)
	return h, 32 << h
}

// spaceDIDs are the did:keys of test spaces 0 … n-1 (made once: a key
// a blob would cost a million blobs ~20 s).
func spaceDIDs(n int) []string {
	dids := make([]string, n)
	for i := range dids {
		var seed [ed25519.SeedSize]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		dids[i] = ucan.DIDKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	}
	return dids
}
