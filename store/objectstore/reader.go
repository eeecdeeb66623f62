package objectstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// ExactReader returns a reader that yields r's bytes only if r holds exactly
// size bytes. The check happens together with the final bytes: the Read that
// completes size bytes also probes r for its end, so a consumer that stops
// after size bytes (as S3 clients do) still sees a too-long stream, or an
// error that r reports at its end (a digest mismatch), as an error.
func ExactReader(r io.Reader, size int64) io.Reader {
	return &exactReader{r: r, remaining: size, size: size}
}

type exactReader struct {
	r         io.Reader
	remaining int64
	size      int64
	err       error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.remaining == 0 {
		e.err = e.probeEnd()
		return 0, e.err
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	switch {
	case err == io.EOF && e.remaining > 0:
		e.err = fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, e.size-e.remaining, e.size)
		return n, e.err
	case err != nil && err != io.EOF:
		e.err = err
		return n, err
	case e.remaining == 0:
		if perr := e.probeEnd(); perr != io.EOF {
			e.err = perr
			return n, perr
		}
		e.err = io.EOF
		return n, io.EOF
	}
	return n, nil
}

// probeEnd reads past the declared end: io.EOF means the stream ended where
// it should.
func (e *exactReader) probeEnd() error {
	var one [1]byte
	for {
		n, err := e.r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%w: more than the declared %d bytes", ErrSizeMismatch, e.size)
		}
		if err != nil {
			return err
		}
	}
}

// ReadCloserObject adapts a reader, its total size and time to Object.
type ReadCloserObject struct {
	io.ReadCloser
	Total int64
	Mod   time.Time
}

func (o ReadCloserObject) Size() int64        { return o.Total }
func (o ReadCloserObject) ModTime() time.Time { return o.Mod }

// ContextReader fails reads once ctx is done, so a cancelled caller stops a
// stream even where the underlying reads never block.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put stores a byte slice.
func Put(ctx context.Context, s Store, key string, data []byte) error {
	return s.Put(ctx, key, int64(len(data)), bytes.NewReader(data))
}

// ReadAll reads a whole object of at most limit bytes.
func ReadAll(ctx context.Context, s Store, key string, limit int64) ([]byte, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Size() > limit {
		return nil, fmt.Errorf("object %s: %d bytes, more than %d", key, obj.Size(), limit)
	}
	return io.ReadAll(obj)
}
