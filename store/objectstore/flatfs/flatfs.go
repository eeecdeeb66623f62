// Package flatfs is an objectstore backend over a flatfs directory in the
// layout Piri writes: <dir>/<shard>/<key>.data with the shard function named
// by the SHARDING file (next-to-last/2 for stores it creates).
//
// Upstream go-ds-flatfs accepts only upper-case keys (kubo's layout), while
// Piri's keys are lower-case base32, so this package uses go-ds-flatfs for
// the shard function, the SHARDING file and the README, and does the file
// I/O itself.
package flatfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	dsflatfs "github.com/ipfs/go-ds-flatfs"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/store/objectstore"
)

const (
	extension = ".data"
	tempDir   = ".temp"
)

// Options controls Open.
type Options struct {
	// Create makes Open initialise a missing or empty directory as a store
	// (SHARDING and _README, next-to-last/2). Without it Open only opens.
	Create bool
	// Sync fsyncs each written file and its directory before Put returns.
	Sync bool
}

// Store is a flatfs directory.
type Store struct {
	dir   string
	shard dsflatfs.ShardFunc
	sync  bool
}

var _ objectstore.Store = (*Store)(nil)

// Open opens the store in dir. Opening an existing store never changes
// anything in the directory.
func Open(dir string, opts Options) (*Store, error) {
	id, err := dsflatfs.ReadShardFunc(dir)
	switch {
	case err == nil:
	case errors.Is(err, dsflatfs.ErrShardingFileMissing) && opts.Create:
		if id, err = create(dir); err != nil {
			return nil, err
		}
	case errors.Is(err, dsflatfs.ErrShardingFileMissing):
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("open flatfs store: %w", serr)
		}
		return nil, fmt.Errorf("open flatfs store %s: no SHARDING file: not a flatfs directory", dir)
	default:
		return nil, fmt.Errorf("open flatfs store %s: corrupt SHARDING file: %w", dir, err)
	}
	return &Store{dir: dir, shard: id.Func(), sync: opts.Sync}, nil
}

// create lays out a new store in dir, which must be missing or empty: a
// directory that holds anything else is left alone.
func create(dir string) (*dsflatfs.ShardIdV1, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create flatfs store: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create flatfs store: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("create flatfs store %s: directory is not empty and has no SHARDING file", dir)
	}
	id := dsflatfs.NextToLast(2)
	if err := dsflatfs.WriteShardFunc(dir, id); err != nil {
		return nil, fmt.Errorf("create flatfs store %s: %w", dir, err)
	}
	if err := dsflatfs.WriteReadme(dir, id); err != nil {
		return nil, fmt.Errorf("create flatfs store %s: %w", dir, err)
	}
	return id, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path is the file that holds key.
func (s *Store) Path(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, s.shard(key), key+extension), nil
}

// validKey admits the names flatfs can hold as a single file name: letters,
// digits, '_' and '-'. Anything else (a '/', "..", a NUL) never reaches the
// filesystem; reads of such a key report ErrNotExist, since nothing can be
// stored under it.
func validKey(key string) error {
	if key == "" {
		return errors.New("invalid flatfs key: empty")
	}
	for i := 0; i < len(key); i++ {
		if !keyChars[key[i]] {
			return fmt.Errorf("invalid flatfs key %q", key)
		}
	}
	return nil
}

// keyChars are the bytes flatfs keys are made of (a table: listings check
// every name).
var keyChars = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-" {
		t[c] = true
	}
	return t
}()

func (s *Store) Put(ctx context.Context, key string, size int64, r io.Reader) (err error) {
	path, err := s.Path(key)
	if err != nil {
		return fmt.Errorf("flatfs put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	temp := filepath.Join(s.dir, tempDir)
	if err := os.MkdirAll(temp, 0o755); err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	f, err := os.CreateTemp(temp, "put-")
	if err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, objectstore.ExactReader(objectstore.ContextReader(ctx, r), size)); err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	if s.sync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("flatfs put %s: fsync: %w", key, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("flatfs put %s: %w", key, err)
	}
	if s.sync {
		if err = syncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("flatfs put %s: fsync directory: %w", key, err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get reads with ReadAt on the open file: no goroutine, no pipe.
func (s *Store) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, size, err := s.OpenFile(key)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flatfs get %s: %w", key, err)
	}
	off, n, err := objectstore.NewGetConfig(opts...).Window(size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flatfs get %s: %w", key, err)
	}
	return &object{f: f, r: io.NewSectionReader(f, off, n), size: size, mod: fi.ModTime(), ctx: ctx}, nil
}

// Files is the store itself: every object is a file.
func (s *Store) Files() objectstore.Files { return s }

// OpenFile opens the file that holds key, for callers that serve it
// directly (pread, FUSE passthrough), and returns its size.
func (s *Store) OpenFile(key string) (*os.File, int64, error) {
	path, err := s.Path(key)
	if err != nil {
		return nil, 0, fmt.Errorf("flatfs get: %w: %v", objectstore.ErrNotExist, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("flatfs get %s: %w", key, mapErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("flatfs get %s: %w", key, err)
	}
	return f, fi.Size(), nil
}

type object struct {
	f    *os.File
	r    *io.SectionReader
	size int64
	mod  time.Time
	ctx  context.Context
}

func (o *object) Read(p []byte) (int, error) {
	if err := o.ctx.Err(); err != nil {
		return 0, err
	}
	return o.r.Read(p)
}

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.mod }
func (o *object) Close() error       { return o.f.Close() }

func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	path, err := s.Path(key)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("flatfs stat: %w: %v", objectstore.ErrNotExist, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("flatfs stat %s: %w", key, mapErr(err))
	}
	return objectstore.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (s *Store) Delete(ctx context.Context, key string) error {
	path, err := s.Path(key)
	if err != nil {
		return nil // an invalid key names nothing stored
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flatfs delete %s: %w", key, err)
	}
	return nil
}

// List walks the shard directories in name order, each in the order the
// filesystem keeps it (stable while the directory is unchanged), and
// skips everything that is not a <key>.data file (.temp, SHARDING,
// _README, stray files).
// KeyAfter: flatfs lists shard directory by shard directory, not in key
// order.
func (s *Store) KeyAfter(context.Context, string) (objectstore.Info, bool, error) {
	return objectstore.Info{}, false, objectstore.ErrUnordered
}

func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return s.list(ctx, prefix, func() bool { return true })
}

// ListKeys is List with a stat per file only in the shards read while
// sized answers true: names come from getdents alone.
func (s *Store) ListKeys(ctx context.Context, prefix string, sized func() bool) iter.Seq2[objectstore.Info, error] {
	if sized == nil {
		sized = func() bool { return false }
	}
	return s.list(ctx, prefix, sized)
}

const (
	shardReaders = 2 // shard directories read at once
	shardsAhead  = 4 // shards read ahead of the consumer
)

// list reads shard directories in parallel, ahead of its consumer, and
// yields them in order: reading a directory, and stat'ing its files,
// costs the kernel (ext4 hashes every name) more than the caller spends
// on it, and a one-by-one walk leaves the other core idle. sized is asked
// once per shard, as its reading starts.
func (s *Store) list(ctx context.Context, prefix string, sized func() bool) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		shards, err := os.ReadDir(s.dir)
		if err != nil {
			yield(objectstore.Info{}, fmt.Errorf("flatfs list %s: %w", s.dir, err))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type result struct {
			infos []objectstore.Info
			err   error
		}
		pending := make(chan chan result, shardsAhead)
		go func() {
			defer close(pending)
			readers := make(chan struct{}, shardReaders)
			for _, shard := range shards {
				if !shard.IsDir() || strings.HasPrefix(shard.Name(), ".") {
					continue
				}
				out := make(chan result, 1)
				select {
				case pending <- out:
				case <-ctx.Done():
					return
				}
				readers <- struct{}{}
				sizes := sized()
				go func() {
					defer func() { <-readers }()
					infos, err := s.readShard(ctx, shard.Name(), prefix, sizes)
					out <- result{infos, err}
				}()
			}
		}()
		for out := range pending {
			r := <-out
			for _, info := range r.infos {
				if !yield(info, nil) {
					return
				}
			}
			if r.err != nil {
				yield(objectstore.Info{}, r.err)
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(objectstore.Info{}, err)
		}
	}
}

// readShard lists one shard directory; with sizes, it stats each file
// relative to the directory, which spares the kernel a walk of the path.
func (s *Store) readShard(ctx context.Context, shard, prefix string, sizes bool) ([]objectstore.Info, error) {
	dir := filepath.Join(s.dir, shard)
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("flatfs list %s: %w", dir, err)
	}
	defer d.Close()
	var dirfd int
	if sizes {
		dirfd = int(d.Fd())
	}
	var infos []objectstore.Info
	for {
		if err := ctx.Err(); err != nil {
			return infos, err
		}
		// Names only (no d_type): Piri writes nothing but regular files
		// named <key>.data, and a lookup stats the file anyway.
		names, rerr := d.Readdirnames(4096)
		if infos == nil {
			infos = make([]objectstore.Info, 0, len(names))
		}
		for _, name := range names {
			key, ok := strings.CutSuffix(name, extension)
			if !ok || !strings.HasPrefix(key, prefix) || validKey(key) != nil {
				continue
			}
			info := objectstore.Info{Key: key, Size: -1}
			if sizes {
				var st unix.Stat_t
				err := ignoringEINTR(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
				if errors.Is(err, unix.ENOENT) {
					continue // deleted while listing
				}
				if err != nil {
					return infos, fmt.Errorf("flatfs list %s: %w", filepath.Join(dir, name), err)
				}
				if st.Mode&unix.S_IFMT != unix.S_IFREG {
					continue
				}
				info.Size, info.ModTime = st.Size, time.Unix(st.Mtim.Unix())
			}
			infos = append(infos, info)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return infos, fmt.Errorf("flatfs list %s: %w", dir, rerr)
		}
	}
	return infos, nil
}

// ignoringEINTR retries a system call a signal interrupted (Go's runtime
// sends them to preempt goroutines).
func ignoringEINTR(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

func mapErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (%v)", objectstore.ErrNotExist, err)
	}
	return err
}
