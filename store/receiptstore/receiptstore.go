// Package receiptstore keeps receipts as Piri does: a CAR whose root is the
// receipt block (then the invocation), keyed by the receipt's CID, with an
// index from the CID of the invocation a receipt ran to the receipt.
package receiptstore

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/ucan"
)

// Store is the receipt store with its ran index.
type Store struct {
	*genericstore.Store[*ucan.Receipt]
	objects objectstore.Store
	ran     ranIndex
}

// ranIndex is the layout of the ran index: where entries live and how the
// receipt CID is written in them.
type ranIndex struct {
	prefix, suffix string
	encode         func(cid.Cid) []byte
	decode         func([]byte) (cid.Cid, error)
}

// New is the store over objects, Piri's receipt/ LevelDB or its
// <prefix>receipts bucket (keys: recordkind.Receipts), with the ran
// index as that backend keeps it: in LevelDB at
// "/ranLinkIndex/<ran CID>" holding the receipt CID's binary form; on S3
// at "receipts-ran/<ran CID>.ref" holding it as a string.
func New(objects objectstore.Store, b recordkind.Backend) *Store {
	k := recordkind.Receipts
	s := &Store{Store: genericstore.New(k.Name, objects, Codec{}, k.Keys(b)), objects: objects}
	if b == recordkind.S3 {
		s.ran = ranIndex{prefix: "receipts-ran/", suffix: ".ref",
			encode: func(c cid.Cid) []byte { return []byte(c.String()) },
			decode: func(b []byte) (cid.Cid, error) { return cid.Decode(strings.TrimSpace(string(b))) }}
	} else {
		s.ran = ranIndex{prefix: "ranLinkIndex/",
			encode: func(c cid.Cid) []byte { return c.Bytes() },
			decode: func(b []byte) (cid.Cid, error) { return cid.Cast(b) }}
	}
	return s
}

// Codec is Piri's receiptstore CAR.
type Codec struct{}

func (Codec) Encode(r *ucan.Receipt) ([]byte, error) { return ucan.EncodeReceiptCAR(r) }

func (Codec) Decode(id string, data []byte) (*ucan.Receipt, error) {
	r, err := ucan.DecodeReceiptCAR(data)
	if err != nil {
		return nil, err
	}
	if id != "" && r.CID.String() != id {
		return nil, fmt.Errorf("car holds receipt %s, stored as %s", r.CID, id)
	}
	return r, nil
}

// Put stores the receipt and indexes it by the invocation it ran.
func (s *Store) Put(ctx context.Context, r *ucan.Receipt) error {
	data, err := ucan.EncodeReceiptCAR(r) // sets r.CID
	if err != nil {
		return fmt.Errorf("receipts: encode: %w", err)
	}
	if err := s.PutRaw(ctx, r.CID.String(), data); err != nil {
		return err
	}
	return s.PutRan(ctx, r.Ran.String(), r.CID.String())
}

// PutRan indexes receipt under the invocation ran, in the form this
// layout keeps: a binary CID in LevelDB, a CID string on S3.
func (s *Store) PutRan(ctx context.Context, ran, receipt string) error {
	if _, err := genericstore.ParseCID(ran); err != nil {
		return fmt.Errorf("receipts: ran index: %w", err)
	}
	c, err := genericstore.ParseCID(receipt)
	if err != nil {
		return fmt.Errorf("receipts: ran index %s: %w", ran, err)
	}
	ref := s.ran.encode(c)
	if err := s.objects.Put(ctx, s.ran.prefix+ran+s.ran.suffix, int64(len(ref)), strings.NewReader(string(ref))); err != nil {
		return fmt.Errorf("receipts: ran index %s: %w", ran, err)
	}
	return nil
}

// ByRan returns the CID of the receipt for the invocation ran.
func (s *Store) ByRan(ctx context.Context, ran string) (string, error) {
	if _, err := genericstore.ParseCID(ran); err != nil {
		return "", fmt.Errorf("receipts by ran: %w: %v", objectstore.ErrNotExist, err)
	}
	obj, err := s.objects.Get(ctx, s.ran.prefix+ran+s.ran.suffix)
	if err != nil {
		return "", fmt.Errorf("receipts by ran %s: %w", ran, err)
	}
	defer obj.Close()
	ref, err := io.ReadAll(io.LimitReader(obj, 4096))
	if err != nil {
		return "", fmt.Errorf("receipts by ran %s: %w", ran, err)
	}
	c, err := s.ran.decode(ref)
	if err != nil {
		return "", fmt.Errorf("receipts by ran %s: %w: index entry: %v", ran, genericstore.ErrCorrupt, err)
	}
	return c.String(), nil
}

// ListRan streams the CIDs of invocations that have a receipt.
func (s *Store) ListRan(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for info, err := range s.objects.List(ctx, s.ran.prefix) {
			if err != nil {
				yield("", fmt.Errorf("list receipts by ran: %w", err))
				return
			}
			ran, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, s.ran.prefix), s.ran.suffix)
			if _, err := genericstore.ParseCID(ran); !ok || err != nil {
				continue
			}
			if !yield(ran, nil) {
				return
			}
		}
	}
}
