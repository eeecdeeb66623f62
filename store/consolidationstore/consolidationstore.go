// Package consolidationstore keeps Piri's egress consolidations: for each
// batch of retrieval receipts, the egress/track invocation sent about it
// and the CID of the consolidate invocation that answered. Records are
// dag-cbor {trackInvocation: bytes (a delegation archive),
// consolidateInvocationCID: link}, keyed by the batch CID.
//
// Older Piri versions kept the two halves apart in LevelDB ("/track/<cid>"
// holding the archive, "/consolidate/<cid>" holding the binary CID). Both
// forms are read; nothing is migrated or deleted.
package consolidationstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/render"
	"github.com/storacha/storefs/store/ucan"
)

// Consolidation is one record.
type Consolidation struct {
	Batch                 cid.Cid
	TrackInvocation       []byte // the stored delegation archive
	Track                 *ucan.Delegation
	ConsolidateInvocation cid.Cid
	Legacy                bool // read from the old split form
}

// Store is the consolidation store.
type Store struct {
	*genericstore.Store[Consolidation]
	objects objectstore.Store
	legacy  bool
}

const (
	legacyTrack       = "track/"
	legacyConsolidate = "consolidate/"
)

// NewDatastore is the store over Piri's LevelDB (consolidation/): keys
// "/<batch CID>", and the legacy split form.
func NewDatastore(objects objectstore.Store) *Store {
	return &Store{Store: genericstore.New("consolidations", objects, Codec{}, genericstore.CIDKeys{}), objects: objects, legacy: true}
}

// NewS3 is the store over Piri's <prefix>consolidation bucket: keys
// "<batch CID>.cbor".
func NewS3(objects objectstore.Store) *Store {
	return &Store{Store: genericstore.New("consolidations", objects, Codec{}, genericstore.CIDKeys{Suffix: ".cbor"}), objects: objects}
}

// Get reads a record in either form.
func (s *Store) Get(ctx context.Context, id string) (Consolidation, error) {
	c, err := s.Store.Get(ctx, id)
	if err == nil || !s.legacy || !errors.Is(err, objectstore.ErrNotExist) {
		return c, err
	}
	return s.getLegacy(ctx, id)
}

func (s *Store) getLegacy(ctx context.Context, id string) (Consolidation, error) {
	batch, err := genericstore.ParseCID(id)
	if err != nil {
		return Consolidation{}, fmt.Errorf("consolidations: %w: %v", objectstore.ErrNotExist, err)
	}
	track, err := s.read(ctx, legacyTrack+id)
	if err != nil {
		return Consolidation{}, err
	}
	ref, err := s.read(ctx, legacyConsolidate+id)
	if err != nil {
		return Consolidation{}, err
	}
	c := Consolidation{Batch: batch, TrackInvocation: track, Legacy: true}
	if c.ConsolidateInvocation, err = cid.Cast(ref); err != nil {
		return Consolidation{}, fmt.Errorf("consolidations %s: %w: consolidate link: %v", id, genericstore.ErrCorrupt, err)
	}
	if c.Track, err = decodeTrack(track); err != nil {
		return Consolidation{}, fmt.Errorf("consolidations %s: %w: %v", id, genericstore.ErrCorrupt, err)
	}
	return c, nil
}

func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.objects.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("consolidations %s: %w", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, genericstore.MaxRecord))
	if err != nil {
		return nil, fmt.Errorf("consolidations %s: %w", key, err)
	}
	return data, nil
}

// Raw returns the record as dag-cbor: the stored bytes of the current
// form, or for the legacy split form the record it amounts to, encoded in
// the current form (there is no single stored value to show).
func (s *Store) Raw(ctx context.Context, id string) ([]byte, error) {
	data, err := s.Store.Raw(ctx, id)
	if err == nil || !s.legacy || !errors.Is(err, objectstore.ErrNotExist) {
		return data, err
	}
	c, err := s.getLegacy(ctx, id)
	if err != nil {
		return nil, err
	}
	return Codec{}.Encode(c)
}

// List streams batch CIDs of both forms, each once.
func (s *Store) List(ctx context.Context) iter.Seq2[genericstore.Entry, error] {
	return func(yield func(genericstore.Entry, error) bool) {
		for e, err := range s.Store.List(ctx, "") {
			if !yield(e, err) || err != nil {
				return
			}
		}
		if !s.legacy {
			return
		}
		for info, err := range s.objects.List(ctx, legacyTrack) {
			if err != nil {
				yield(genericstore.Entry{}, fmt.Errorf("list consolidations: %w", err))
				return
			}
			id := strings.TrimPrefix(info.Key, legacyTrack)
			if _, err := genericstore.ParseCID(id); err != nil {
				continue
			}
			if both, err := s.Exists(ctx, id); err != nil || both {
				if err != nil && !yield(genericstore.Entry{}, err) {
					return
				}
				continue // the new form wins
			}
			if !yield(genericstore.Entry{ID: id, Size: info.Size}, nil) {
				return
			}
		}
	}
}

// PutLegacy writes the old split form (tests and the demo use it to build
// data dirs like those older Piri versions left).
func (s *Store) PutLegacy(ctx context.Context, c Consolidation) error {
	id := c.Batch.String()
	ref := c.ConsolidateInvocation.Bytes()
	if err := s.objects.Put(ctx, legacyTrack+id, int64(len(c.TrackInvocation)), strings.NewReader(string(c.TrackInvocation))); err != nil {
		return fmt.Errorf("consolidations %s: %w", id, err)
	}
	if err := s.objects.Put(ctx, legacyConsolidate+id, int64(len(ref)), strings.NewReader(string(ref))); err != nil {
		return fmt.Errorf("consolidations %s: %w", id, err)
	}
	return nil
}

// Codec is the dag-cbor encoding. The batch CID is the record's id.
type Codec struct{}

func (Codec) Encode(c Consolidation) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "trackInvocation", qp.Bytes(c.TrackInvocation))
		qp.MapEntry(ma, "consolidateInvocationCID", qp.Link(ipldutil.Link(c.ConsolidateInvocation)))
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

func (Codec) Decode(id string, data []byte) (Consolidation, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return Consolidation{}, err
	}
	var c Consolidation
	if id != "" {
		if c.Batch, err = genericstore.ParseCID(id); err != nil {
			return Consolidation{}, err
		}
	}
	if c.TrackInvocation, err = ipldutil.Bytes(n, "trackInvocation"); err != nil {
		return Consolidation{}, err
	}
	if c.ConsolidateInvocation, err = ipldutil.LinkField(n, "consolidateInvocationCID"); err != nil {
		return Consolidation{}, err
	}
	if c.Track, err = decodeTrack(c.TrackInvocation); err != nil {
		return Consolidation{}, err
	}
	return c, nil
}

func decodeTrack(archive []byte) (*ucan.Delegation, error) {
	d, _, err := ucan.DecodeDelegationArchive(archive)
	if err != nil {
		return nil, fmt.Errorf("trackInvocation: %w", err)
	}
	return d, nil
}

type consolidationJSON struct {
	Batch                 string `json:"batch"`
	ConsolidateInvocation string `json:"consolidateInvocation"`
	TrackInvocation       any    `json:"trackInvocation"`
}

// JSON renders the consolidation as the mount shows it.
func (c Consolidation) JSON() ([]byte, error) {
	track, err := c.Track.JSONValue()
	if err != nil {
		return nil, err
	}
	return render.JSON(consolidationJSON{Batch: c.Batch.String(), ConsolidateInvocation: c.ConsolidateInvocation.String(), TrackInvocation: track})
}

// HasLegacyForm says whether this backend may hold the old split form.
func (s *Store) HasLegacyForm() bool { return s.legacy }
