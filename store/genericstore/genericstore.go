// Package genericstore keeps typed records in an objectstore: a Codec turns
// records into bytes, a Keys scheme maps record ids (the names the mount
// and the CLI show) to backend keys.
package genericstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/ipfs/go-cid"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/storacha/storefs/store/objectstore"
)

// Codec encodes and decodes records. Decode gets the record's id, for
// records whose identity lives in their key.
type Codec[T any] interface {
	Encode(T) ([]byte, error)
	Decode(id string, data []byte) (T, error)
}

// Keys maps ids to backend keys and back.
type Keys interface {
	// Key is the backend key of id; an error means no record can have it.
	Key(id string) (string, error)
	// ID recognises a listed key as a record's.
	ID(key string) (string, bool)
	// Other says a key ID does not recognise belongs to something else
	// sharing the namespace (an index, another form): skipped quietly.
	// Any other key is a record under a key of an unexpected shape.
	Other(key string) bool
	// ListPrefix is the backend prefix covering every id that starts with
	// idPrefix, or "" with false when only a full listing can tell.
	ListPrefix(idPrefix string) (string, bool)
}

// MaxRecord bounds a record read into memory; records are KB sized.
const MaxRecord = 64 << 20

// ErrCorrupt is matched by records whose bytes do not decode.
var ErrCorrupt = errors.New("record does not decode")

// Store is a typed record store.
type Store[T any] struct {
	objects objectstore.Store
	codec   Codec[T]
	keys    Keys
	name    string
	odd     sync.Map // keys of an unexpected shape already logged
}

// AtKey starts the id of a record listed under a key of an unexpected
// shape: "@" + its backend key. Such a record is never dropped: where its
// value decodes it is shown under its key.
const AtKey = "@"

// New returns a store named name (for messages).
func New[T any](name string, objects objectstore.Store, codec Codec[T], keys Keys) *Store[T] {
	return &Store[T]{objects: objects, codec: codec, keys: keys, name: name}
}

// Name says which store this is.
func (s *Store[T]) Name() string { return s.name }

// Key is the backend key of id.
func (s *Store[T]) Key(id string) (string, error) {
	if key, ok := strings.CutPrefix(id, AtKey); ok {
		if key == "" || strings.ContainsRune(key, 0) {
			return "", fmt.Errorf("invalid id %q: no key", id)
		}
		return key, nil
	}
	return s.keys.Key(id)
}

// Get reads and decodes a record. A missing record matches
// objectstore.ErrNotExist, an undecodable one ErrCorrupt.
func (s *Store[T]) Get(ctx context.Context, id string) (T, error) {
	rec, _, err := s.GetTime(ctx, id)
	return rec, err
}

// GetTime is Get with when the backend stored the record (zero where it
// keeps no time: LevelDB).
func (s *Store[T]) GetTime(ctx context.Context, id string) (T, time.Time, error) {
	var zero T
	data, mod, err := s.RawTime(ctx, id)
	if err != nil {
		return zero, time.Time{}, err
	}
	rec, err := s.Decode(id, data)
	return rec, mod, err
}

// Decode decodes a record's stored bytes.
func (s *Store[T]) Decode(id string, data []byte) (T, error) {
	codecID := id
	if strings.HasPrefix(id, AtKey) {
		codecID = "" // the key tells nothing of the record
	}
	rec, err := s.codec.Decode(codecID, data)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s %s: %w: %v", s.name, id, ErrCorrupt, err)
	}
	return rec, nil
}

// Raw reads a record's stored bytes.
func (s *Store[T]) Raw(ctx context.Context, id string) ([]byte, error) {
	data, _, err := s.RawTime(ctx, id)
	return data, err
}

// RawTime is Raw with when the backend stored the record, from the same
// answer.
func (s *Store[T]) RawTime(ctx context.Context, id string) ([]byte, time.Time, error) {
	key, err := s.Key(id)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s %q: %w: %v", s.name, id, objectstore.ErrNotExist, err)
	}
	obj, err := s.objects.Get(ctx, key)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s %s: %w", s.name, id, err)
	}
	defer obj.Close()
	if obj.Size() > MaxRecord {
		return nil, time.Time{}, fmt.Errorf("%s %s: %w: %d bytes is too large for a record", s.name, id, ErrCorrupt, obj.Size())
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s %s: %w", s.name, id, err)
	}
	return data, obj.ModTime(), nil
}

// Put encodes and stores a record.
func (s *Store[T]) Put(ctx context.Context, id string, rec T) error {
	data, err := s.codec.Encode(rec)
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", s.name, id, err)
	}
	return s.PutRaw(ctx, id, data)
}

// PutRaw stores bytes as they are (tests use it to plant corrupt records).
func (s *Store[T]) PutRaw(ctx context.Context, id string, data []byte) error {
	key, err := s.Key(id)
	if err != nil {
		return fmt.Errorf("%s %q: %w", s.name, id, err)
	}
	if err := s.objects.Put(ctx, key, int64(len(data)), strings.NewReader(string(data))); err != nil {
		return fmt.Errorf("%s %s: %w", s.name, id, err)
	}
	return nil
}

// Delete removes a record.
func (s *Store[T]) Delete(ctx context.Context, id string) error {
	key, err := s.Key(id)
	if err != nil {
		return nil
	}
	return s.objects.Delete(ctx, key)
}

// Exists reports whether id is stored.
func (s *Store[T]) Exists(ctx context.Context, id string) (bool, error) {
	key, err := s.Key(id)
	if err != nil {
		return false, nil
	}
	_, err = s.objects.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objectstore.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("%s %s: %w", s.name, id, err)
}

// Entry is a listed record: its id and the size of its stored bytes.
type Entry struct {
	ID   string
	Size int64
}

// List streams the ids that start with prefix.
func (s *Store[T]) List(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		keyPrefix, _ := s.keys.ListPrefix(prefix)
		for info, err := range s.objects.List(ctx, keyPrefix) {
			if err != nil {
				yield(Entry{}, fmt.Errorf("list %s: %w", s.name, err))
				return
			}
			id, ok := s.keys.ID(info.Key)
			if !ok {
				if id, ok = s.oddKey(ctx, info.Key); !ok {
					continue
				}
			}
			if !strings.HasPrefix(id, prefix) {
				continue
			}
			if !yield(Entry{ID: id, Size: info.Size}, nil) {
				return
			}
		}
	}
}

// odd decides on a listed key ID does not recognise: something else's
// (skipped), or a record under a key of an unexpected shape, logged once
// and listed under AtKey+key where its value decodes.
func (s *Store[T]) oddKey(ctx context.Context, key string) (string, bool) {
	if s.keys.Other(key) {
		return "", false
	}
	id := AtKey + key
	_, err := s.Get(ctx, id)
	if _, logged := s.odd.LoadOrStore(key, true); !logged {
		if err != nil {
			slog.Default().Warn("a record under a key of an unexpected shape does not decode; not shown", "store", s.name, "key", key, "err", err)
		} else {
			slog.Default().Warn("a record under a key of an unexpected shape; shown under its key", "store", s.name, "key", key, "id", id)
		}
	}
	return id, err == nil
}

// CIDKeys store a record under its CID: key "<Prefix><cid><Suffix>", id
// the canonical CID string.
type CIDKeys struct {
	Prefix string // e.g. "receipts/" in Piri's receipt LevelDB
	Suffix string // e.g. ".cbor" in Piri's consolidation bucket
	// Others are the key prefixes of what else shares the namespace (an
	// index, another form of the records).
	Others []string
}

func (k CIDKeys) Other(key string) bool {
	for _, p := range k.Others {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (k CIDKeys) Key(id string) (string, error) {
	if _, err := ParseCID(id); err != nil {
		return "", err
	}
	return k.Prefix + id + k.Suffix, nil
}

func (k CIDKeys) ID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.Prefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, k.Suffix)
	if !ok {
		return "", false
	}
	if _, err := ParseCID(id); err != nil {
		return "", false
	}
	return id, true
}

func (k CIDKeys) ListPrefix(idPrefix string) (string, bool) { return k.Prefix + idPrefix, true }

// ParseCID accepts only a CID in its canonical string form, so one record
// has one name.
func ParseCID(id string) (cid.Cid, error) {
	c, err := cid.Decode(id)
	if err != nil || c.String() != id {
		return cid.Undef, fmt.Errorf("invalid record id %q: not a canonical CID", id)
	}
	return c, nil
}
