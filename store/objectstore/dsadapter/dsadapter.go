// Package dsadapter is an objectstore backend over any go-datastore: LevelDB
// directories of a Piri data_dir (go-ds-leveldb) or a MapDatastore in memory.
//
// An objectstore key "a/b" is the datastore key "/a/b". Datastores hold
// values whole, so Get slices the value: fine for the KB-sized records and
// the memory configuration these stores serve.
package dsadapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"syscall"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/storacha/storefs/store/objectstore"
)

// Store adapts a datastore.
type Store struct {
	d    ds.Datastore
	name string // for error messages: the directory, or "memory"
}

var _ objectstore.Store = (*Store)(nil)

// New wraps d. name appears in error messages.
func New(d ds.Datastore, name string) *Store { return &Store{d: d, name: name} }

// NewMemory returns a store over a thread-safe MapDatastore.
func NewMemory() *Store { return New(dssync.MutexWrap(ds.NewMapDatastore()), "memory") }

// ErrLocked is matched when a LevelDB directory is held by another process.
var ErrLocked = errors.New("in use by another process")

// OpenLevelDB opens the LevelDB in dir. With readOnly, nothing in dir is
// written, and a missing database is an error rather than created.
func OpenLevelDB(dir string, readOnly bool) (*Store, error) {
	o := &leveldb.Options{ReadOnly: readOnly, ErrorIfMissing: readOnly}
	d, err := leveldb.NewDatastore(dir, o)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("open leveldb %s: %w (its LOCK is held: a running Piri node keeps it locked; stop the node, or copy the directory and open the copy)", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open leveldb %s: %w", dir, err)
	}
	return New(d, dir), nil
}

// Close closes the datastore.
func (s *Store) Close() error { return s.d.Close() }

func dsKey(key string) (ds.Key, error) {
	if key == "" || strings.HasPrefix(key, "/") {
		return ds.Key{}, fmt.Errorf("invalid datastore key %q", key)
	}
	return ds.NewKey(key), nil
}

func (s *Store) Put(ctx context.Context, key string, size int64, r io.Reader) error {
	k, err := dsKey(key)
	if err != nil {
		return fmt.Errorf("%s put: %w", s.name, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := io.Copy(buf, objectstore.ExactReader(objectstore.ContextReader(ctx, r), size)); err != nil {
		return fmt.Errorf("%s put %s: %w", s.name, key, err)
	}
	if err := s.d.Put(ctx, k, buf.Bytes()); err != nil {
		return fmt.Errorf("%s put %s: %w", s.name, key, err)
	}
	return nil
}

func (s *Store) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k, err := dsKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s get: %w: %v", s.name, objectstore.ErrNotExist, err)
	}
	data, err := s.d.Get(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("%s get %s: %w", s.name, key, mapErr(err))
	}
	off, n, err := objectstore.NewGetConfig(opts...).Window(int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s get %s: %w", s.name, key, err)
	}
	body := io.NopCloser(objectstore.ContextReader(ctx, bytes.NewReader(data[off:off+n])))
	return objectstore.ReadCloserObject{ReadCloser: body, Total: int64(len(data))}, nil
}

func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return objectstore.Info{}, err
	}
	k, err := dsKey(key)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("%s stat: %w: %v", s.name, objectstore.ErrNotExist, err)
	}
	size, err := s.d.GetSize(ctx, k)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("%s stat %s: %w", s.name, key, mapErr(err))
	}
	return objectstore.Info{Key: key, Size: int64(size)}, nil
}

// Files is nil: objects are not local files.
func (s *Store) Files() objectstore.Files { return nil }

func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := dsKey(key)
	if err != nil {
		return nil // an invalid key names nothing stored
	}
	if err := s.d.Delete(ctx, k); err != nil && !errors.Is(err, ds.ErrNotFound) {
		return fmt.Errorf("%s delete %s: %w", s.name, key, err)
	}
	return nil
}

// List queries the enclosing key "directory" of prefix, so LevelDB iterates
// only that range, and filters by the string prefix (datastore prefixes
// match whole path components, objectstore prefixes match strings). Keys
// come in order; LevelDB iterates in key order without buffering.
// KeyAfter: a datastore's query order is its own.
func (s *Store) KeyAfter(context.Context, string) (objectstore.Info, bool, error) {
	return objectstore.Info{}, false, objectstore.ErrUnordered
}

func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		dir := "/"
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			dir = "/" + prefix[:i]
		}
		res, err := s.d.Query(ctx, dsq.Query{Prefix: dir, KeysOnly: true, ReturnsSizes: true, Orders: []dsq.Order{dsq.OrderByKey{}}})
		if err != nil {
			yield(objectstore.Info{}, fmt.Errorf("%s list %q: %w", s.name, prefix, err))
			return
		}
		defer res.Close()
		for {
			r, ok := res.NextSync()
			if !ok {
				return
			}
			if r.Error != nil {
				yield(objectstore.Info{}, fmt.Errorf("%s list %q: %w", s.name, prefix, r.Error))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(objectstore.Info{}, err)
				return
			}
			key := strings.TrimPrefix(r.Key, "/")
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			if !yield(objectstore.Info{Key: key, Size: int64(r.Size)}, nil) {
				return
			}
		}
	}
}

func mapErr(err error) error {
	if errors.Is(err, ds.ErrNotFound) {
		return objectstore.ErrNotExist
	}
	return err
}
