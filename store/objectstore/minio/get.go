package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/storacha/storefs/store/objectstore"
)

// Get sends one GET (ranged when asked): the total size comes from its
// Content-Range, so no HEAD is needed.
func (s *Store) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := objectstore.NewGetConfig(opts...)
	o := &object{s: s, key: key, ctx: ctx, end: -1}
	if cfg.Range != nil {
		o.off, o.end = cfg.Range.Start, cfg.Range.End
		if o.off < 0 || (o.end >= 0 && o.end < o.off) {
			return nil, fmt.Errorf("s3 get %s/%s: %w", s.bucket, key, &objectstore.RangeError{Range: *cfg.Range, Size: -1})
		}
	}
	if err := o.open(cfg.Range != nil); err != nil {
		if minio.ToErrorResponse(err).Code == "InvalidRange" {
			return nil, s.rangeError(ctx, key, *cfg.Range)
		}
		return nil, err
	}
	// Servers differ on ranges over empty objects; hold every one to the
	// objectstore contract.
	if cfg.Range != nil {
		if _, _, err := cfg.Range.Resolve(o.size); err != nil {
			o.Close()
			return nil, fmt.Errorf("s3 get %s/%s: %w", s.bucket, key, err)
		}
	}
	return o, nil
}

// rangeError builds the typed error for a 416, with the object's size.
func (s *Store) rangeError(ctx context.Context, key string, r objectstore.Range) error {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return err
	}
	return fmt.Errorf("s3 get %s/%s: %w", s.bucket, key, &objectstore.RangeError{Range: r, Size: info.Size})
}

type object struct {
	s        *Store
	key      string
	ctx      context.Context
	off, end int64 // next byte to read; last byte wanted (-1: to the end)
	size     int64
	mod      time.Time
	etag     string
	body     io.ReadCloser
	wd       *watchdog
	resumes  int
	failed   error
}

// open GETs [off, end]. ranged says a Range header is needed even from 0.
func (o *object) open(ranged bool) error {
	o.wd = newWatchdog(o.ctx, o.s.c.timeout)
	var opts minio.GetObjectOptions
	if o.etag != "" {
		if err := opts.SetMatchETag(o.etag); err != nil {
			return err
		}
	}
	if ranged || o.off > 0 {
		// Set directly: minio-go's SetRange reads (0, 0) as "bytes=0-0"
		// but (n, 0) as "bytes=n-".
		opts.Set("Range", objectstore.Range{Start: o.off, End: o.end}.String())
	}
	body, info, hdr, err := o.s.c.core.GetObject(o.wd.ctx, o.s.bucket, o.key, opts)
	if err != nil {
		o.wd.stop()
		if resp := minio.ToErrorResponse(err); resp.Code == "InvalidRange" {
			return err
		}
		return o.s.err(o.wd.cause(err), "get", o.key)
	}
	size := info.Size
	if cr := hdr.Get("Content-Range"); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, perr := strconv.ParseInt(cr[i+1:], 10, 64); perr == nil {
				size = n
			}
		}
	}
	o.size, o.etag, o.body = size, info.ETag, body
	if o.mod.IsZero() { // a resumed read keeps the first answer's
		o.mod = info.LastModified
	}
	return nil
}

func (o *object) Read(p []byte) (int, error) {
	if err := o.ctx.Err(); err != nil {
		return 0, err
	}
	if o.failed != nil {
		return 0, o.failed
	}
	if o.body == nil { // the body broke earlier: resume where it stopped
		if o.off >= o.size || (o.end >= 0 && o.off > o.end) {
			return 0, io.EOF
		}
		if err := o.open(true); err != nil {
			o.failed = err
			return 0, err
		}
	}
	n, err := o.body.Read(p)
	o.wd.kick()
	o.off += int64(n)
	if err == nil || err == io.EOF {
		return n, err
	}
	err = o.wd.cause(err)
	o.closeBody()
	// A stall or the caller's cancellation ends the read; a broken
	// connection is resumed, a bounded number of times.
	if o.ctx.Err() != nil || errors.Is(err, errStalled) || o.resumes >= o.s.c.cfg.MaxRetries {
		o.failed = o.s.err(err, "get", o.key)
		if n > 0 {
			return n, nil
		}
		return 0, o.failed
	}
	o.resumes++
	if n > 0 {
		return n, nil
	}
	return o.Read(p)
}

// drainLimit is the most Close reads to let a connection be reused: Go's
// HTTP client closes connections whose body was not read to its end.
const drainLimit = 256 << 10

func (o *object) closeBody() {
	if o.body != nil {
		left := o.size - o.off
		if o.end >= 0 {
			left = o.end + 1 - o.off
		}
		if left >= 0 && left <= drainLimit && o.ctx.Err() == nil {
			io.CopyN(io.Discard, o.body, left+1)
		}
		o.body.Close()
		o.body = nil
	}
	o.wd.stop()
}

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.mod }

func (o *object) Close() error {
	o.closeBody()
	o.failed = errClosed
	return nil
}

var errClosed = errors.New("s3 object: read after close")

// Stat is a HEAD.
func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return objectstore.Info{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout) // retries included
	defer cancel()
	info, err := s.c.mc.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return objectstore.Info{}, s.err(err, "stat", key)
	}
	return objectstore.Info{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}
