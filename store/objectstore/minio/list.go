package minio

import (
	"context"
	"iter"

	"github.com/minio/minio-go/v7"

	"github.com/storacha/storefs/store/objectstore"
)

// List pages through ListObjectsV2 (1000 keys a page), yielding as it goes.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(objectstore.Info{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for info := range s.c.mc.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if info.Err != nil {
				yield(objectstore.Info{}, s.c.wrap(info.Err, "s3 list %s/%s", s.bucket, prefix))
				return
			}
			if !yield(objectstore.Info{Key: info.Key, Size: info.Size, ModTime: info.LastModified}, nil) {
				return
			}
		}
	}
}

// errStalled reports a request whose server went quiet for Timeout.
