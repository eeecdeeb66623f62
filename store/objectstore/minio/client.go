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
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/storacha/storefs/store/objectstore"
)

// DefaultTimeout is a request's bound when Config names none (and
// storefs's --timeout default).
const DefaultTimeout = 30 * time.Second

// Config says how to reach the S3 server. It is Piri's [repo.s3] section.
type Config struct {
	Endpoint        string // host:port
	AccessKeyID     string
	SecretAccessKey string
	Insecure        bool // plain http instead of https
	// Region requests are signed for; empty: asked of the server per
	// bucket (GetBucketLocation, once), as minio-go does.
	Region string
	// Timeout bounds each request's wait for the server (headers, and any
	// stall of a body). Zero: DefaultTimeout.
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
	// opened is when this client was made: a multipart upload of a key
	// begun before it was another process's (see abortStale).
	opened time.Time
}

// NewClient prepares a client; it sends no request.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("s3: no endpoint")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
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
	c := &Client{cfg: cfg, timeout: cfg.Timeout, opened: time.Now()}
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
	case resp.Code == "NoSuchKey" || (resp.Code == "NotFound" && resp.StatusCode == http.StatusNotFound):
		return &redacted{msg: msg + ": " + objectstore.ErrNotExist.Error(), err: objectstore.ErrNotExist}
	case resp.Code == "NoSuchBucket":
		return &redacted{msg: msg + ": " + ErrNoBucket.Error(), err: ErrNoBucket}
	case accessDenied[resp.Code] || resp.StatusCode == http.StatusForbidden:
		detail := resp.Code
		if detail == "" {
			detail = http.StatusText(resp.StatusCode)
		}
		return &redacted{msg: c.redact.Replace(fmt.Sprintf("%s: %s (%s: check the credentials and the bucket policy)", msg, objectstore.ErrAccessDenied, detail)), err: objectstore.ErrAccessDenied}
	}
	return &redacted{msg: c.redact.Replace(msg + ": " + err.Error()), err: err}
}

// accessDenied are the S3 error codes of refused credentials or requests.
// versitygw answers an unknown access key with XAdminUserNotFound (and a
// 404, which must not read as a missing object).
var accessDenied = map[string]bool{"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidToken": true, "ExpiredToken": true, "AllAccessDisabled": true, "XAdminUserNotFound": true}

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
	// shards, when above zero, lists the bucket's top-level prefixes
	// that many at a time (see Sharded).
	shards int
}

// Sharded makes a full listing of the bucket run per top-level prefix,
// n listings at once, merged back into key order: for a bucket whose
// keys sit under many prefixes of a fixed shape (Piri's pdp bucket:
// "<shard>/<b32>.data", 1,024 shards), where one listing is a round trip
// per 1,000 keys. A bucket keyed otherwise (records, one prefix per
// digest) must not be: its top level is as long as the bucket.
func (s *Store) Sharded(n int) *Store {
	s.shards = n
	return s
}

var _ objectstore.Store = (*Store)(nil)

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) err(err error, op, key string) error {
	return s.c.wrap(err, "s3 %s %s/%s", op, s.bucket, key)
}

// Files is nil: objects are not local files.
func (s *Store) Files() objectstore.Files { return nil }
