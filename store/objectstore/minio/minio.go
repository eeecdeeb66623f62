// Package minio is the S3 objectstore backend, over minio-go. One Client
// serves all of a node's buckets; each Store is one bucket.
//
// Every request has a deadline: a Get or Stat, retries included, fails
// once the server has given nothing for Timeout (the transport also bounds
// each wait for response headers by Timeout), and a body that stops moving
// for Timeout is cancelled. minio-go retries 5xx, throttling and connection
// errors with backoff, MaxRetries times; a ranged read that breaks mid-body
// resumes from where it stopped, as long as the object's ETag is unchanged.
package minio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/storacha/storefs/store/objectstore"
)

// Config says how to reach the S3 server. It is Piri's [repo.s3] section.
type Config struct {
	Endpoint        string // host:port
	AccessKeyID     string
	SecretAccessKey string
	Insecure        bool   // plain http instead of https
	Region          string // default us-east-1
	// Timeout bounds each request's wait for the server (headers, and any
	// stall of a body). Default 30s.
	Timeout time.Duration
	// MaxRetries bounds attempts per request on retryable failures. Default 3.
	MaxRetries int
	// WrapTransport, when set, wraps the HTTP transport (fault injection,
	// request counting).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Client is a connection to one S3 server.
type Client struct {
	mc      *minio.Client
	core    minio.Core
	cfg     Config
	redact  *strings.Replacer
	timeout time.Duration
}

// NewClient prepares a client; it sends no request.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("s3: no endpoint")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 3
	}
	transport, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	transport.ResponseHeaderTimeout = cfg.Timeout
	transport.DialContext = (&net.Dialer{Timeout: min(cfg.Timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 64
	var rt http.RoundTripper = transport
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(rt)
	}
	c := &Client{cfg: cfg, timeout: cfg.Timeout}
	var pairs []string
	for _, secret := range []string{cfg.SecretAccessKey, cfg.AccessKeyID} {
		if secret != "" {
			pairs = append(pairs, secret, "[REDACTED]")
		}
	}
	c.redact = strings.NewReplacer(pairs...)
	c.mc, err = minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       !cfg.Insecure,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupAuto, // path style for IPs and localhost
		Transport:    rt,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, c.wrap(err, "s3 client for %s", cfg.Endpoint)
	}
	c.core = minio.Core{Client: c.mc}
	return c, nil
}

// ErrNoBucket is matched when a bucket is missing. It is not ErrNotExist: a
// missing bucket is a configuration problem, not a missing object.
var ErrNoBucket = errors.New("bucket does not exist")

// Bucket opens one bucket. It checks that the bucket exists (one request,
// which also proves the server answers and accepts the credentials); with
// create it makes a missing bucket instead.
func (c *Client) Bucket(ctx context.Context, name string, create bool) (*Store, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout*time.Duration(c.cfg.MaxRetries+1))
	defer cancel()
	ok, err := c.mc.BucketExists(ctx, name)
	if err != nil {
		return nil, c.wrap(err, "s3 %s: bucket %s", c.cfg.Endpoint, name)
	}
	if !ok && !create {
		return nil, fmt.Errorf("s3 %s: bucket %s: %w", c.cfg.Endpoint, name, ErrNoBucket)
	}
	if !ok {
		err := c.mc.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: c.cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, c.wrap(err, "s3 %s: create bucket %s", c.cfg.Endpoint, name)
		}
	}
	return &Store{c: c, bucket: name}, nil
}

// wrap adds context to err and strips anything secret from its text.
func (c *Client) wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch resp := minio.ToErrorResponse(err); {
	case resp.Code == "NoSuchKey" || resp.Code == "NotFound" && resp.StatusCode == http.StatusNotFound:
		return &redacted{msg: msg + ": " + objectstore.ErrNotExist.Error(), err: objectstore.ErrNotExist}
	case resp.Code == "NoSuchBucket":
		return &redacted{msg: msg + ": " + ErrNoBucket.Error(), err: ErrNoBucket}
	}
	return &redacted{msg: c.redact.Replace(msg + ": " + err.Error()), err: err}
}

// redacted is an error whose text was scrubbed of credentials; it still
// matches what it wraps with errors.Is.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Store is one bucket.
type Store struct {
	c      *Client
	bucket string
}

var _ objectstore.Store = (*Store)(nil)

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// partSize is both the largest object sent in one PUT and the part size of
// multipart uploads: a Put holds at most this much in memory.
const partSize = 16 << 20

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
	buf := make([]byte, min(size, partSize))
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
		p, perr := s.c.core.PutObjectPart(wd.ctx, s.bucket, key, id, len(parts)+1, wd.reader(bytes.NewReader(buf[:n])), int64(n), minio.PutObjectPartOptions{})
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

func (s *Store) err(err error, op, key string) error {
	return s.c.wrap(err, "s3 %s %s/%s", op, s.bucket, key)
}

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

func (o *object) Size() int64 { return o.size }

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
	return objectstore.Info{Key: key, Size: info.Size}, nil
}

// Files is nil: objects are not local files.
func (s *Store) Files() objectstore.Files { return nil }

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
			if !yield(objectstore.Info{Key: info.Key, Size: info.Size}, nil) {
				return
			}
		}
	}
}

// errStalled reports a request whose server went quiet for Timeout.
var errStalled = errors.New("s3 server stopped responding")

// watchdog cancels a request that makes no progress for a timeout.
type watchdog struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
	once    sync.Once
}

func newWatchdog(parent context.Context, timeout time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("%w for %v", errStalled, timeout))
	})
	return w
}

func (w *watchdog) kick() { w.timer.Reset(w.timeout) }

func (w *watchdog) stop() {
	w.once.Do(func() {
		w.timer.Stop()
		w.cancel(nil)
	})
}

// cause explains err: a stall, not a bare "context canceled".
func (w *watchdog) cause(err error) error {
	if c := context.Cause(w.ctx); c != nil && errors.Is(c, errStalled) {
		return c
	}
	return err
}

// reader kicks the watchdog as a body is consumed.
func (w *watchdog) reader(r io.Reader) io.Reader { return kickReader{w, r} }

type kickReader struct {
	w *watchdog
	r io.Reader
}

func (k kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.w.kick()
	return n, err
}
