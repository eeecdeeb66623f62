package blobcache

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
)

// ChunkSize is the span one outboard hash covers: a partial read fetches
// at most this much on either side to check what it returns, and the
// outboard costs 32 bytes per chunk (0.05 % of the blob).
const ChunkSize = 64 << 10

// Outboard is a SHA-256 of each ChunkSize chunk of a blob, made while the
// whole blob was read and matched its multihash. It lets any range of the
// blob be checked alone.
type Outboard struct {
	size int64
	sums []byte // sha256.Size per chunk
}

// ErrMismatch is matched by the error of bytes that do not match their
// outboard.
var ErrMismatch = errors.New("blob bytes do not match their outboard hash")

// OutboardBuilder hashes a blob written to it in order.
type OutboardBuilder struct {
	h    hash.Hash
	in   int64 // bytes of the chunk being hashed
	size int64
	sums []byte
}

func NewOutboardBuilder(size int64) *OutboardBuilder {
	return &OutboardBuilder{h: sha256.New(), size: size, sums: make([]byte, 0, chunks(size)*sha256.Size)}
}

func chunks(size int64) int64 { return (size + ChunkSize - 1) / ChunkSize }

func (b *OutboardBuilder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(int64(len(p)), ChunkSize-b.in)
		b.h.Write(p[:k])
		b.in += k
		p = p[k:]
		if b.in == ChunkSize {
			b.sums = b.h.Sum(b.sums)
			b.h.Reset()
			b.in = 0
		}
	}
	return n, nil
}

// Outboard is the finished outboard; nil when fewer or more bytes than
// the blob's size were written.
func (b *OutboardBuilder) Outboard() *Outboard {
	sums := b.sums
	if b.in > 0 {
		sums = b.h.Sum(sums)
	}
	if int64(len(sums)) != chunks(b.size)*sha256.Size {
		return nil
	}
	return &Outboard{size: b.size, sums: sums}
}

// check compares chunk i against its hash.
func (o *Outboard) check(i int64, data []byte) bool {
	sum := sha256.Sum256(data)
	return bytes.Equal(sum[:], o.sums[i*sha256.Size:(i+1)*sha256.Size])
}

// Check reads the blob through next, checked: a read fetches the whole
// chunks around the range it asks for and checks each before any of its
// bytes are returned. A chunk that does not match fails the read with
// ErrMismatch.
func (o *Outboard) Check(next blobstore.Ranges) blobstore.Ranges { return checkedRanges{o, next} }

type checkedRanges struct {
	o    *Outboard
	next blobstore.Ranges
}

func (r checkedRanges) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	o := r.o
	end := min(off+n, o.size)
	if off >= end {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	cOff := off / ChunkSize * ChunkSize
	cEnd := min(roundUp(end, ChunkSize), o.size)
	body, err := r.next.ReadRange(ctx, cOff, cEnd-cOff)
	if err != nil {
		return nil, err
	}
	return &checkedReader{o: o, r: body, chunk: cOff / ChunkSize, next: cOff, off: off, end: end}, nil
}

// checkedReader yields [off, end) of chunks read whole and checked.
type checkedReader struct {
	o     *Outboard
	r     io.ReadCloser
	chunk int64 // index of the next chunk from r
	next  int64 // its offset
	buf   []byte
	cur   []byte // checked bytes not yet returned
	off   int64  // offset of the next byte to return
	end   int64
}

func (c *checkedReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.off >= c.end {
			return 0, io.EOF
		}
		n := min(ChunkSize, c.o.size-c.next)
		if c.buf == nil {
			c.buf = make([]byte, ChunkSize)
		}
		if _, err := io.ReadFull(c.r, c.buf[:n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if !c.o.check(c.chunk, c.buf[:n]) {
			return 0, fmt.Errorf("%w: chunk at %d", ErrMismatch, c.next)
		}
		from, to := max(c.off, c.next)-c.next, min(c.end, c.next+n)-c.next
		c.cur = c.buf[from:to]
		c.chunk++
		c.next += n
	}
	k := copy(p, c.cur)
	c.cur = c.cur[k:]
	c.off += int64(k)
	return k, nil
}

func (c *checkedReader) Close() error { return c.r.Close() }

// outboardEntry is an outboard on disk.
type outboardEntry struct {
	name string
	size int64 // on disk, in pages
	used time.Time
	elem *list.Element
}

// The outboard file: magic, blob size, chunk size, the hashes, CRC-32C.
const obMagic = "sfobao01"

func encodeOutboard(o *Outboard) []byte {
	out := make([]byte, 0, len(obMagic)+12+len(o.sums)+4)
	out = append(out, obMagic...)
	out = binary.BigEndian.AppendUint64(out, uint64(o.size))
	out = binary.BigEndian.AppendUint32(out, ChunkSize)
	out = append(out, o.sums...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func decodeOutboard(raw []byte) (*Outboard, error) {
	head := len(obMagic) + 12
	if len(raw) < head+4 || string(raw[:len(obMagic)]) != obMagic {
		return nil, errors.New("not an outboard")
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("outboard checksum mismatch")
	}
	size := int64(binary.BigEndian.Uint64(raw[len(obMagic):]))
	if binary.BigEndian.Uint32(raw[len(obMagic)+8:]) != ChunkSize || size < 0 ||
		int64(len(body)-head) != chunks(size)*sha256.Size {
		return nil, errors.New("outboard of another shape")
	}
	return &Outboard{size: size, sums: bytes.Clone(body[head:])}, nil
}

func (c *Cache) outboardPath(name string) string { return filepath.Join(c.dir, "outboards", name) }

// PutOutboard keeps the outboard of a blob that matched its multihash.
// It is written whole (temporary file, then rename), and may evict blob
// bytes to make room.
func (c *Cache) PutOutboard(digest mh.Multihash, o *Outboard) error {
	name := blobstore.Name(digest)
	raw := encodeOutboard(o)
	size := roundUp(int64(len(raw)), PageSize)
	c.mu.Lock()
	if _, ok := c.outboards[name]; ok {
		c.mu.Unlock()
		return nil
	}
	if !c.makeRoom(size, nil) {
		c.mu.Unlock()
		return fmt.Errorf("cache %s: no room for an outboard of %d bytes", c.dir, size)
	}
	c.used += size
	ob := &outboardEntry{name: name, size: size, used: time.Now()}
	ob.elem = c.oblru.PushBack(ob)
	c.outboards[name] = ob
	c.mu.Unlock()

	tmp := c.outboardPath(name) + ".tmp"
	err := writeFileSync(tmp, raw)
	if err == nil {
		err = os.Rename(tmp, c.outboardPath(name))
	}
	if err != nil {
		os.Remove(tmp)
		c.mu.Lock()
		c.dropOutboard(ob)
		c.mu.Unlock()
		return fmt.Errorf("cache %s: outboard: %w", c.dir, err)
	}
	c.stats.CacheBytes(c.used)
	return nil
}

// Outboard is the blob's outboard, nil when there is none. One that does
// not check is removed.
func (c *Cache) Outboard(digest mh.Multihash, size int64) *Outboard {
	name := blobstore.Name(digest)
	c.mu.Lock()
	ob, ok := c.outboards[name]
	if ok {
		c.oblru.MoveToBack(ob.elem)
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	raw, err := os.ReadFile(c.outboardPath(name))
	var o *Outboard
	if err == nil {
		o, err = decodeOutboard(raw)
	}
	if err == nil && o.size != size {
		err = fmt.Errorf("outboard of a %d-byte blob, not %d", o.size, size)
	}
	if err != nil {
		c.log.Warn("cache: dropping an outboard that does not check", "blob", name, "err", err)
		c.mu.Lock()
		c.dropOutboard(ob)
		c.mu.Unlock()
		return nil
	}
	return o
}

// dropOutboard removes an outboard. c.mu is held.
func (c *Cache) dropOutboard(ob *outboardEntry) {
	if c.outboards[ob.name] != ob {
		return
	}
	delete(c.outboards, ob.name)
	c.oblru.Remove(ob.elem)
	c.used -= ob.size
	os.Remove(c.outboardPath(ob.name))
	c.stats.CacheEviction()
	c.stats.CacheBytes(c.used)
}
