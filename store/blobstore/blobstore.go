// Package blobstore stores content-addressed blobs over an objectstore: keys
// come from the blob's multihash through a backend's KeyEncoder, Put checks
// that the bytes hash to the multihash, and reads keep the objectstore's
// streaming and ranges.
package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	mh "github.com/multiformats/go-multihash"
	_ "github.com/multiformats/go-multihash/register/all" // every function go-multihash can compute

	"github.com/storacha/storefs/store/objectstore"
)

// Store is what the layers above (the filesystem, the CLI) use.
type Store interface {
	// Put stores size bytes from r as digest, failing (and storing
	// nothing) when they do not hash to digest.
	Put(ctx context.Context, digest mh.Multihash, size int64, r io.Reader) error
	Get(ctx context.Context, digest mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error)
	Stat(ctx context.Context, digest mh.Multihash) (Info, error)
	// List streams every blob with its size, once.
	List(ctx context.Context) iter.Seq2[Info, error]
	// ListKeys streams every key that holds a blob, in backend order: a
	// blob stored under both its key and a fallback key (S3: v0.2.4 and
	// v0.2.3) comes twice. An audit needs to see both; a listing of
	// names wants List.
	ListKeys(ctx context.Context) iter.Seq2[Info, error]
	// Files is the store's local-file side, or nil (see Files). A wrapper
	// that embeds a Store passes it on by construction.
	Files() Files
}

// Info describes a stored blob.
type Info struct {
	Digest mh.Multihash
	Size   int64
	Key    string // the backend key that holds it
	// ModTime is when the backend stored it; zero where it keeps none.
	ModTime time.Time
	// Layout is the Piri layout of Key (LayoutV024 …).
	Layout string
}

// ErrDigestMismatch is matched when bytes do not hash to their multihash.
var ErrDigestMismatch = errors.New("bytes do not match the multihash")

// New returns a blob store over objects, keyed by enc.
func New(objects objectstore.Store, enc KeyEncoder) Store {
	return &store{objects: objects, enc: enc}
}

type store struct {
	objects objectstore.Store
	enc     KeyEncoder
	// legacy remembers blobs found under a fallback key, so each costs one
	// failed lookup at most once.
	legacy sync.Map // string(digest) -> key
}

func (s *store) Put(ctx context.Context, digest mh.Multihash, size int64, r io.Reader) error {
	v, err := NewVerifier(digest)
	if err != nil {
		return err
	}
	if err := s.objects.Put(ctx, s.enc.Key(digest), size, v.Reader(r)); err != nil {
		return fmt.Errorf("put blob %s: %w", Name(digest), err)
	}
	return nil
}

func (s *store) Get(ctx context.Context, digest mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	var obj objectstore.Object
	err := s.resolve(digest, func(key string) (err error) {
		obj, err = s.objects.Get(ctx, key, opts...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", Name(digest), err)
	}
	return obj, nil
}

func (s *store) Stat(ctx context.Context, digest mh.Multihash) (Info, error) {
	var info objectstore.Info
	err := s.resolve(digest, func(key string) (err error) {
		info, err = s.objects.Stat(ctx, key)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("stat blob %s: %w", Name(digest), err)
	}
	return Info{Digest: digest, Size: info.Size, Key: info.Key, ModTime: info.ModTime, Layout: s.enc.Layout(info.Key)}, nil
}

// resolve runs op on the blob's key, then on each fallback key while the
// answer is "not there".
func (s *store) resolve(digest mh.Multihash, op func(key string) error) error {
	if key, ok := s.legacy.Load(string(digest)); ok {
		return op(key.(string))
	}
	err := op(s.enc.Key(digest))
	for _, key := range s.enc.Fallbacks(digest) {
		if !errors.Is(err, objectstore.ErrNotExist) {
			break
		}
		if err = op(key); err == nil {
			s.legacy.Store(string(digest), key)
		}
	}
	return err
}

// List streams every blob once. A blob stored under both its key and a
// fallback key (S3: v0.2.4 and v0.2.3) is listed under its key. Keys are
// yielded as they come, and so is a fallback key once the listing has
// passed where its blob's key would be, or shows that nothing lies
// there (one KeyAfter per run of bare names): a bucket of v0.2.3's bare
// keys alone streams like any other. The rest wait until the listing
// shows no twin under the key, and come last. What is remembered is 8
// bytes per key listed, plus the fallback keys still waiting.
func (s *store) List(ctx context.Context) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		var (
			seed    = maphash.MakeSeed()
			primary = map[uint64]struct{}{} // hashes of names listed under their key
			waiting = map[string]Info{}     // fallback-keyed blobs, by name
			past    = &pastRuns{objects: s.objects, runs: map[string]bool{}}
		)
		twin := func(digest mh.Multihash) bool {
			_, listed := primary[maphash.Bytes(seed, digest)]
			return listed && s.hasPrimary(ctx, digest)
		}
		for b, err := range s.ListKeys(ctx) {
			if err != nil {
				yield(Info{}, err)
				return
			}
			digest := b.Digest
			if key := s.enc.Key(digest); b.Key != key { // a fallback key
				switch settled, err := past.settled(ctx, key, b.Key); {
				case err != nil:
					yield(Info{}, fmt.Errorf("list blobs: %w", err))
					return
				case !settled:
					waiting[string(digest)] = b
					continue
				case twin(digest):
					continue
				}
				if !yield(b, nil) {
					return
				}
				continue
			}
			if len(s.enc.Fallbacks(digest)) > 0 {
				primary[maphash.Bytes(seed, digest)] = struct{}{}
				delete(waiting, string(digest))
			}
			if !yield(b, nil) {
				return
			}
		}
		for _, name := range slices.Sorted(maps.Keys(waiting)) {
			b := waiting[name]
			if twin(b.Digest) {
				continue
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// pastRuns tells whether a lexical listing, now at a fallback key, can
// still bring a blob's key: what KeyAfter said past each run of bare
// names (keys sharing their first two characters: Piri's v0.2.3 names
// of one hash function), asked once per run.
type pastRuns struct {
	objects   objectstore.Store
	runs      map[string]bool // first two characters → nothing lies past the run
	unordered bool            // the store does not list in key order
}

// settled says whether the listing, at key at, has passed where key
// would be, or will not bring it.
func (p *pastRuns) settled(ctx context.Context, key, at string) (bool, error) {
	if p.unordered || len(at) < 2 {
		return false, nil
	}
	run := at[:2]
	empty, asked := p.runs[run]
	if !asked {
		// '~' sorts after base32's characters and '/': this is past the
		// run's bare names and the shard directory before them.
		_, more, err := p.objects.KeyAfter(ctx, run+"~")
		if errors.Is(err, objectstore.ErrUnordered) {
			p.unordered = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		empty = !more
		p.runs[run] = empty
	}
	// A key past at would come in a later run: v0.2.4's "<shard>/" sorts
	// before the bare names that start with the same two characters.
	return key < at || empty, nil
}

func (s *store) ListKeys(ctx context.Context) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for info, err := range s.objects.List(ctx, "") {
			if err != nil {
				yield(Info{}, fmt.Errorf("list blobs: %w", err))
				return
			}
			digest, ok := s.enc.Parse(info.Key)
			if !ok {
				continue
			}
			if !yield(Info{Digest: digest, Size: info.Size, Key: info.Key, ModTime: info.ModTime, Layout: s.enc.Layout(info.Key)}, nil) {
				return
			}
		}
	}
}

// hasPrimary checks that a blob is stored under its key: a hash match in
// List is confirmed before a blob is left out.
func (s *store) hasPrimary(ctx context.Context, digest mh.Multihash) bool {
	_, err := s.objects.Stat(ctx, s.enc.Key(digest))
	return err == nil
}

// Verifier hashes bytes with a multihash's function and compares.
type Verifier struct {
	want   []byte // the digest
	hasher hash.Hash
	name   string
}

// NewVerifier prepares to check bytes against digest.
func NewVerifier(digest mh.Multihash) (*Verifier, error) {
	dec, err := mh.Decode(digest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadName, err)
	}
	h, err := mh.GetHasher(dec.Code)
	if err != nil {
		return nil, fmt.Errorf("blob %s: hash function %s: %w", Name(digest), mh.Codes[dec.Code], err)
	}
	if dec.Length > h.Size() && dec.Code != mh.IDENTITY {
		return nil, fmt.Errorf("blob %s: digest longer than %s produces", Name(digest), dec.Name)
	}
	return &Verifier{want: dec.Digest, hasher: h, name: Name(digest)}, nil
}

func (v *Verifier) Write(p []byte) (int, error) { return v.hasher.Write(p) }

// Check compares what was written with the digest.
func (v *Verifier) Check() error {
	sum := v.hasher.Sum(nil)
	if len(sum) > len(v.want) {
		sum = sum[:len(v.want)] // truncated digests
	}
	if !bytes.Equal(sum, v.want) {
		return fmt.Errorf("blob %s: %w", v.name, ErrDigestMismatch)
	}
	return nil
}

// Check reads a stored blob whole (through wrap, when set: a rate limit,
// progress) and compares its bytes with its multihash: nil, a
// ErrDigestMismatch, or why it could not be read.
func Check(ctx context.Context, s Store, digest mh.Multihash, wrap func(io.Reader) io.Reader) error {
	v, err := NewVerifier(digest)
	if err != nil {
		return err
	}
	obj, err := s.Get(ctx, digest)
	if err != nil {
		return err
	}
	defer obj.Close()
	var r io.Reader = obj
	if wrap != nil {
		r = wrap(obj)
	}
	if _, err := io.CopyBuffer(v, r, make([]byte, 256<<10)); err != nil {
		return fmt.Errorf("read blob %s: %w", Name(digest), err)
	}
	return v.Check()
}

// Reader passes r through, hashing it, and reports a mismatch instead of
// io.EOF at its end, which makes objectstores abort the write.
func (v *Verifier) Reader(r io.Reader) io.Reader { return &verifyingReader{r: r, v: v} }

type verifyingReader struct {
	r io.Reader
	v *Verifier
}

func (vr *verifyingReader) Read(p []byte) (int, error) {
	n, err := vr.r.Read(p)
	vr.v.Write(p[:n])
	if err == io.EOF {
		if cerr := vr.v.Check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// Files serves blobs that are plain local files (flatfs). Callers may
// read the file itself (pread, FUSE passthrough), and list names without
// sizes: for local files a later stat costs what the listing would have.
type Files interface {
	OpenFile(digest mh.Multihash) (*os.File, error)
	// ListNames streams blob names (canonical b32) as Info.Key, with
	// sizes only while sized says so (objectstore.Files.ListKeys).
	ListNames(ctx context.Context, sized func() bool) iter.Seq2[objectstore.Info, error]
}

// Files offers the local files of a flatfs-keyed store of files: only
// there are the keys the names.
func (s *store) Files() Files {
	files := s.objects.Files()
	if _, flat := s.enc.(FlatFS); files == nil || !flat {
		return nil
	}
	return localFiles{s, files}
}

type localFiles struct {
	s     *store
	files objectstore.Files
}

// ListNames checks each key without allocating, which matters to a
// listing of millions.
func (l localFiles) ListNames(ctx context.Context, sized func() bool) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		for info, err := range l.files.ListKeys(ctx, "", sized) {
			if err != nil {
				yield(objectstore.Info{}, fmt.Errorf("list blobs: %w", err))
				return
			}
			if validB32(info.Key) && !yield(info, nil) {
				return
			}
		}
	}
}

func (l localFiles) OpenFile(digest mh.Multihash) (*os.File, error) {
	f, _, err := l.files.OpenFile(l.s.enc.Key(digest))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", Name(digest), err)
	}
	return f, nil
}
