// Package consolidationstore keeps Piri's egress consolidations: for each
// batch of retrieval receipts, the egress/track invocation sent about it
// and the CID of the consolidate invocation that answered. Records are
// dag-cbor {trackInvocation: bytes (a delegation archive),
// consolidateInvocationCID: link}, keyed by the batch CID.
//
// Piri v0.0.15–v0.2.2 kept the two halves apart ("/track/<cid>" holding
// the archive, "/consolidate/<cid>" holding the binary CID) in another
// LevelDB, <data_dir>/egress_tracker/journal/consolidation. v0.2.3 and
// later open <data_dir>/consolidation and never migrate the old one, so
// the egress claims pending there are stranded: both are shown, the new
// form winning a batch that is in both. Nothing is migrated or deleted.
package consolidationstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordkind"
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
	// split are the stores that may hold the old split form, in order:
	// the old journal directory, then the current one.
	split []objectstore.Store
	log   *slog.Logger
}

const (
	legacyTrack       = "track/"
	legacyConsolidate = "consolidate/"
)

// New is the store over objects, Piri's consolidation/ LevelDB or its
// <prefix>consolidation bucket (keys: recordkind.Consolidations). In a
// data dir, journal, when not nil, is the old
// egress_tracker/journal/consolidation LevelDB, read in the split form
// (as is any split form left in the current one).
func New(objects objectstore.Store, b recordkind.Backend, journal objectstore.Store) *Store {
	k := recordkind.Consolidations
	s := &Store{Store: genericstore.New(k.Name, objects, Codec{}, k.Keys(b)), log: slog.Default()}
	if b == recordkind.S3 {
		return s
	}
	if journal != nil {
		s.split = append(s.split, journal)
	}
	s.split = append(s.split, objects)
	return s
}

// Get reads a record in either form.
func (s *Store) Get(ctx context.Context, id string) (Consolidation, error) {
	c, err := s.Store.Get(ctx, id)
	if err == nil || len(s.split) == 0 || !errors.Is(err, objectstore.ErrNotExist) {
		return c, err
	}
	return s.getLegacy(ctx, id)
}

// getLegacy reads the split form from the first store that has it.
func (s *Store) getLegacy(ctx context.Context, id string) (Consolidation, error) {
	batch, err := genericstore.ParseCID(id)
	if err != nil {
		return Consolidation{}, fmt.Errorf("consolidations: %w: %v", objectstore.ErrNotExist, err)
	}
	var track, ref []byte
	for _, objects := range s.split {
		if track, err = read(ctx, objects, legacyTrack+id); errors.Is(err, objectstore.ErrNotExist) {
			continue
		} else if err != nil {
			return Consolidation{}, err
		}
		if ref, err = read(ctx, objects, legacyConsolidate+id); err != nil {
			return Consolidation{}, err
		}
		break
	}
	if track == nil {
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

func read(ctx context.Context, objects objectstore.Store, key string) ([]byte, error) {
	obj, err := objects.Get(ctx, key)
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
	if err == nil || len(s.split) == 0 || !errors.Is(err, objectstore.ErrNotExist) {
		return data, err
	}
	c, err := s.getLegacy(ctx, id)
	if err != nil {
		return nil, err
	}
	return Codec{}.Encode(c)
}

// List streams batch CIDs of both forms and both directories, each once.
func (s *Store) List(ctx context.Context) iter.Seq2[genericstore.Entry, error] {
	return func(yield func(genericstore.Entry, error) bool) {
		for e, err := range s.Store.List(ctx, "") {
			if !yield(e, err) || err != nil {
				return
			}
		}
		seen := map[string]bool{} // split-form ids yielded: a few stranded batches
		for i, objects := range s.split {
			for info, err := range objects.List(ctx, legacyTrack) {
				if err != nil {
					yield(genericstore.Entry{}, fmt.Errorf("list consolidations: %w", err))
					return
				}
				id := strings.TrimPrefix(info.Key, legacyTrack)
				if _, err := genericstore.ParseCID(id); err != nil || seen[id] {
					continue
				}
				if both, err := s.Exists(ctx, id); err != nil || both {
					if err != nil && !yield(genericstore.Entry{}, err) {
						return
					}
					if i < len(s.split)-1 { // the old journal directory
						s.log.Info("consolidation batch in both the old journal and the current store; the current one is shown", "batch", id)
					}
					continue // the new form wins
				}
				seen[id] = true
				if !yield(genericstore.Entry{ID: id, Size: info.Size}, nil) {
					return
				}
			}
		}
	}
}

// PutLegacy writes the old split form where Piri v0.2.2 did, the journal
// directory (tests and the demo use it to build data dirs like those
// older Piri versions left).
func (s *Store) PutLegacy(ctx context.Context, c Consolidation) error {
	if len(s.split) == 0 {
		return fmt.Errorf("consolidations: this backend has no split form")
	}
	objects := s.split[0]
	id := c.Batch.String()
	ref := c.ConsolidateInvocation.Bytes()
	if err := objects.Put(ctx, legacyTrack+id, int64(len(c.TrackInvocation)), strings.NewReader(string(c.TrackInvocation))); err != nil {
		return fmt.Errorf("consolidations %s: %w", id, err)
	}
	if err := objects.Put(ctx, legacyConsolidate+id, int64(len(ref)), strings.NewReader(string(ref))); err != nil {
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
func (s *Store) HasLegacyForm() bool { return len(s.split) > 0 }
