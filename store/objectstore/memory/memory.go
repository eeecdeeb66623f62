// Package memory is an in-process objectstore backend, for tests and the
// memory-only configuration.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/storacha/storefs/store/objectstore"
)

// Store keeps objects in a map. Stored slices are never mutated, so readers
// share them without copying.
type Store struct {
	mu      sync.RWMutex
	objects map[string]stored
}

type stored struct {
	data []byte
	mod  time.Time
}

var _ objectstore.Store = (*Store)(nil)

func New() *Store { return &Store{objects: map[string]stored{}} }

func (s *Store) Put(ctx context.Context, key string, size int64, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("memory put %q: negative size %d", key, size)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := io.Copy(buf, objectstore.ExactReader(objectstore.ContextReader(ctx, r), size)); err != nil {
		return fmt.Errorf("memory put %q: %w", key, err)
	}
	s.mu.Lock()
	s.objects[key] = stored{buf.Bytes(), time.Now()}
	s.mu.Unlock()
	return nil
}

func (s *Store) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	obj, err := s.lookup(key)
	if err != nil {
		return nil, err
	}
	data := obj.data
	off, n, err := objectstore.NewGetConfig(opts...).Window(int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("memory get %q: %w", key, err)
	}
	body := io.NopCloser(objectstore.ContextReader(ctx, bytes.NewReader(data[off:off+n])))
	return objectstore.ReadCloserObject{ReadCloser: body, Total: int64(len(data)), Mod: obj.mod}, nil
}

func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return objectstore.Info{}, err
	}
	obj, err := s.lookup(key)
	if err != nil {
		return objectstore.Info{}, err
	}
	return objectstore.Info{Key: key, Size: int64(len(obj.data)), ModTime: obj.mod}, nil
}

func (s *Store) lookup(key string) (stored, error) {
	s.mu.RLock()
	obj, ok := s.objects[key]
	s.mu.RUnlock()
	if !ok {
		return stored{}, fmt.Errorf("memory %q: %w", key, objectstore.ErrNotExist)
	}
	return obj, nil
}

// Files is nil: objects are not local files.
func (s *Store) Files() objectstore.Files { return nil }

func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return ctx.Err()
}

// KeyAfter scans the key set for the least key above key.
func (s *Store) KeyAfter(ctx context.Context, key string) (objectstore.Info, bool, error) {
	if err := ctx.Err(); err != nil {
		return objectstore.Info{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best objectstore.Info
	found := false
	for k, v := range s.objects {
		if k > key && (!found || k < best.Key) {
			best, found = objectstore.Info{Key: k, Size: int64(len(v.data)), ModTime: v.mod}, true
		}
	}
	return best, found, nil
}

// List yields keys in sorted order from a snapshot of the key set taken
// when iteration starts.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		s.mu.RLock()
		infos := make([]objectstore.Info, 0, len(s.objects))
		for k, v := range s.objects {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, objectstore.Info{Key: k, Size: int64(len(v.data)), ModTime: v.mod})
			}
		}
		s.mu.RUnlock()
		sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(objectstore.Info{}, err)
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}
