package blobcache

import "math/bits"

// bitmap is a set of page numbers.
type bitmap []uint64

func newBitmap(n int64) bitmap { return make(bitmap, (n+63)/64) }

func (b bitmap) has(p int64) bool { return b[p/64]&(1<<(p%64)) != 0 }
func (b bitmap) set(p int64)      { b[p/64] |= 1 << (p % 64) }
func (b bitmap) clone() bitmap    { return append(bitmap(nil), b...) }

func (b bitmap) count() int64 {
	var n int
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// bytes is the bitmap of n pages, a bit a page, page 0 the low bit of
// byte 0.
func (b bitmap) bytes(n int64) []byte {
	out := make([]byte, (n+7)/8)
	for i := range out {
		out[i] = byte(b[i/8] >> (8 * (i % 8)))
	}
	return out
}

// bitmapFrom reads bytes of n pages; bits past n are ignored.
func bitmapFrom(raw []byte, n int64) bitmap {
	b := newBitmap(n)
	for i, c := range raw {
		b[i/8] |= uint64(c) << (8 * (i % 8))
	}
	if n%64 != 0 && len(b) > 0 {
		b[len(b)-1] &= 1<<(n%64) - 1
	}
	return b
}
