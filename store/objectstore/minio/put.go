package minio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/storacha/storefs/store/objectstore"
)

// partSize is both the largest object sent in one PUT and the part size of
// multipart uploads: a Put holds at most this much in memory.
const partSize = 16 << 20

var parts = sync.Pool{New: func() any { b := make([]byte, partSize); return &b }}

// Put reads each part itself, so that the end of the stream (where a
// verifying reader reports a digest mismatch) is seen before anything is
// committed: a one-shot PUT starts only once the whole object was read, and
// a multipart upload is completed only after the reader reached its end,
// and aborted otherwise.
func (s *Store) Put(ctx context.Context, key string, size int64, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3 put %s/%s: negative size %d", s.bucket, key, size)
	}
	r = objectstore.ExactReader(objectstore.ContextReader(ctx, r), size)
	var buf []byte
	if size >= partSize {
		// Parts of big objects reuse buffers: a copy of many blobs
		// would otherwise make 16 MiB of garbage a blob.
		pb := parts.Get().(*[]byte)
		defer parts.Put(pb)
		buf = *pb
	} else {
		buf = make([]byte, size)
	}
	n, eof, err := fill(buf, r)
	if err != nil {
		return fmt.Errorf("s3 put %s/%s: %w", s.bucket, key, err)
	}
	if eof {
		return s.putOnce(ctx, key, buf[:n])
	}
	return s.putMultipart(ctx, key, buf, r)
}

// fill reads until buf is full or r ends. eof reports a clean end.
func fill(buf []byte, r io.Reader) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	// Full: peek whether the stream ends here, through a zero-length probe
	// that ExactReader answers with its end-of-stream verdict.
	if len(buf) == 0 {
		_, err := r.Read(buf)
		if err == io.EOF {
			return 0, true, nil
		}
		return 0, false, err
	}
	return n, false, nil
}

var putOpts = minio.PutObjectOptions{
	// Unsigned payloads: versitygw mishandles zero-byte streaming-signed
	// PUTs on kept-alive connections, and TLS protects payloads anyway.
	DisableContentSha256: true,
}

func (s *Store) putOnce(ctx context.Context, key string, data []byte) error {
	wd := newWatchdog(ctx, s.c.timeout)
	defer wd.stop()
	_, err := s.c.core.PutObject(wd.ctx, s.bucket, key, wd.reader(bytes.NewReader(data)), int64(len(data)), "", "", putOpts)
	if err != nil {
		return s.err(wd.cause(err), "put", key)
	}
	return nil
}

func (s *Store) putMultipart(ctx context.Context, key string, first []byte, r io.Reader) (err error) {
	if err := s.abortStale(ctx, key); err != nil {
		return err
	}
	id, err := s.c.core.NewMultipartUpload(ctx, s.bucket, key, putOpts)
	if err != nil {
		return s.err(err, "put", key)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.c.timeout)
			defer cancel()
			s.c.core.AbortMultipartUpload(actx, s.bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	buf, n, eof := first, len(first), false
	for n > 0 {
		wd := newWatchdog(ctx, s.c.timeout)
		p, perr := s.c.core.PutObjectPart(wd.ctx, s.bucket, key, id, len(parts)+1, wd.reader(bytes.NewReader(buf[:n])), int64(n), minio.PutObjectPartOptions{DisableContentSha256: true})
		wd.stop()
		if perr != nil {
			return s.err(wd.cause(perr), "put", key)
		}
		parts = append(parts, minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
		if eof {
			break
		}
		if n, eof, err = fill(buf, r); err != nil {
			return fmt.Errorf("s3 put %s/%s: %w", s.bucket, key, err)
		}
	}
	if !eof { // the last part filled the buffer exactly: confirm the end
		if _, eof, err = fill(buf[:0], r); err != nil || !eof {
			return fmt.Errorf("s3 put %s/%s: stream did not end: %w", s.bucket, key, err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	if _, err := s.c.core.CompleteMultipartUpload(cctx, s.bucket, key, id, parts, putOpts); err != nil {
		return s.err(err, "put", key)
	}
	return nil
}

// abortStale aborts the incomplete multipart uploads of key begun before
// this client was made: what a writer killed mid-upload left (its parts
// cost storage, and nothing ever completes them). Uploads of other keys,
// and of this key begun since (another writer's, running now), are left
// alone.
func (s *Store) abortStale(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	res, err := s.c.core.ListMultipartUploads(ctx, s.bucket, key, "", "", "", 1000)
	if err != nil {
		return s.err(err, "list incomplete uploads", key)
	}
	for _, u := range res.Uploads {
		// Servers keep the time to the second: one begun in the second
		// this client was made counts as another writer's.
		if u.Key != key || !u.Initiated.Before(s.c.opened.Truncate(time.Second)) {
			continue
		}
		if err := s.c.core.AbortMultipartUpload(ctx, s.bucket, key, u.UploadID); err != nil {
			return s.err(err, "abort a stale upload", key)
		}
	}
	return nil
}

func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	if err := s.c.mc.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(s.err(err, "delete", key), objectstore.ErrNotExist) {
			return nil
		}
		return s.err(err, "delete", key)
	}
	return nil
}
