package objectstoretest

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/storacha/storefs/store/objectstore"
)

// Bench measures ranged Gets of 4 KiB and 1 MiB at random aligned offsets
// of a 64 MiB object: the unit of work of a FUSE read.
func Bench(b *testing.B, s objectstore.Store, key string) {
	const size = 64 << 20
	data := Data(9, size)
	Put(b, s, key, data)
	for _, n := range []int64{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("RangedGet%dKiB", n>>10), func(b *testing.B) {
			buf := make([]byte, n)
			b.SetBytes(n)
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				off := (i * 7919 * n) % (size - n) / n * n
				i++
				obj, err := s.Get(context.Background(), key, objectstore.WithRange(objectstore.Bytes(off, off+n-1)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(obj, buf); err != nil {
					b.Fatal(err)
				}
				obj.Close()
			}
		})
	}
}
