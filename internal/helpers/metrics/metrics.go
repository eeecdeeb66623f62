// Package metrics exposes storefs' Prometheus metrics (storefs_ prefix):
// backend requests and bytes, bytes served through the mount, FUSE
// operation latency, prefetch memory and the read mode. A nil *Metrics
// records nothing, so callers need no checks.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/storacha/storefs/store/objectstore"
)

// Metrics holds the collectors of one process.
type Metrics struct {
	reg             *prometheus.Registry
	backendRequests *prometheus.CounterVec
	backendBytes    *prometheus.CounterVec
	servedBytes     prometheus.Counter
	fuseOps         *prometheus.HistogramVec
	prefetchBytes   prometheus.Gauge
	prefetchBudget  prometheus.Gauge
	unverifiedReads prometheus.Counter
	readMode        *prometheus.GaugeVec
	cacheHits       prometheus.Counter
	cacheMisses     prometheus.Counter
	cacheBytes      prometheus.Gauge
	cacheEvictions  prometheus.Counter
	catalog         *prometheus.GaugeVec
}

// New registers the collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		backendRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefs_backend_requests_total", Help: "Backend requests by store, operation and outcome.",
		}, []string{"store", "op", "outcome"}),
		backendBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storefs_backend_read_bytes_total", Help: "Bytes read from the backend.",
		}, []string{"store"}),
		servedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storefs_served_bytes_total", Help: "Bytes served to readers of the mount.",
		}),
		fuseOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "storefs_fuse_op_duration_seconds", Help: "Latency of FUSE operations handled by storefs.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10),
		}, []string{"op"}),
		prefetchBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "storefs_prefetch_bytes_in_use", Help: "Memory held by read-ahead buffers.",
		}),
		prefetchBudget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "storefs_prefetch_budget_bytes", Help: "The most memory read-ahead buffers may hold.",
		}),
		unverifiedReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storefs_unverified_reads_total", Help: "Under --verify, READs served from blobs that were never read whole, so never verified.",
		}),
		readMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "storefs_read_mode", Help: "1 for the blob read path opens take: passthrough (the kernel reads the local file), pread (storefs reads it) or daemon (storefs reads the store through read-ahead).",
		}, []string{"mode"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storefs_cache_hits_total", Help: "Blob reads (backend-sized ranges) served wholly from --cache-dir.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storefs_cache_misses_total", Help: "Blob reads that fetched some of their bytes from the store.",
		}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "storefs_cache_bytes", Help: "Disk used by --cache-dir: blob pages, their maps and outboards.",
		}),
		cacheEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storefs_cache_evictions_total", Help: "Blobs (and outboards) evicted from --cache-dir to make room.",
		}),
		catalog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "storefs_catalog_blobs", Help: "The catalogue's refresh: blobs listed so far, new ones read, and 1 for done once the listing was caught up.",
		}, []string{"state"}),
	}
	m.reg.MustRegister(m.catalog, m.backendRequests, m.backendBytes, m.servedBytes, m.fuseOps, m.prefetchBytes, m.prefetchBudget, m.unverifiedReads, m.readMode,
		m.cacheHits, m.cacheMisses, m.cacheBytes, m.cacheEvictions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Serve answers /metrics on addr until ctx ends. It binds before
// returning, so a bad address is reported at once.
func (m *Metrics) Serve(ctx context.Context, addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return l.Addr(), nil
}

// CatalogProgress says how far the catalogue's refresh is: blobs listed
// and read so far, and whether it is done.
func (m *Metrics) CatalogProgress(listed, read int64, done bool) {
	if m == nil {
		return
	}
	m.catalog.WithLabelValues("listed").Set(float64(listed))
	m.catalog.WithLabelValues("read").Set(float64(read))
	d := 0.0
	if done {
		d = 1
	}
	m.catalog.WithLabelValues("done").Set(d)
}

// FuseOp records one FUSE operation's latency: defer m.FuseOp("read", time.Now()).
func (m *Metrics) FuseOp(op string, start time.Time) {
	if m != nil {
		m.fuseOps.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

// FuseOps is how many op operations were handled.
func (m *Metrics) FuseOps(op string) uint64 {
	var d dto.Metric
	if m == nil || m.fuseOps.WithLabelValues(op).(prometheus.Histogram).Write(&d) != nil {
		return 0
	}
	return d.GetHistogram().GetSampleCount()
}

// Served counts bytes returned to a reader.
func (m *Metrics) Served(n int) {
	if m != nil {
		m.servedBytes.Add(float64(n))
	}
}

// PrefetchInUse sets the bytes held by read-ahead buffers.
func (m *Metrics) PrefetchInUse(n int64) {
	if m != nil {
		m.prefetchBytes.Set(float64(n))
	}
}

// PrefetchBudget sets the read-ahead memory budget.
func (m *Metrics) PrefetchBudget(n int64) {
	if m != nil {
		m.prefetchBudget.Set(float64(n))
	}
}

// UnverifiedReads counts READs served unverified under --verify.
func (m *Metrics) UnverifiedReads(n int64) {
	if m != nil {
		m.unverifiedReads.Add(float64(n))
	}
}

// CacheHit counts a read served from the cache.
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

// CacheMiss counts a read that went to the store.
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

// CacheBytes sets the cache's disk use.
func (m *Metrics) CacheBytes(n int64) {
	if m != nil {
		m.cacheBytes.Set(float64(n))
	}
}

// CacheEviction counts an eviction.
func (m *Metrics) CacheEviction() {
	if m != nil {
		m.cacheEvictions.Inc()
	}
}

// ReadMode records which blob read path is in use.
func (m *Metrics) ReadMode(mode string) {
	if m != nil {
		m.readMode.Reset()
		m.readMode.WithLabelValues(mode).Set(1)
	}
}

// Instrument wraps an objectstore so each request is counted.
func (m *Metrics) Instrument(name string, s objectstore.Store) objectstore.Store {
	if m == nil {
		return s
	}
	return &instrumented{Store: s, m: m, name: name}
}

type instrumented struct {
	objectstore.Store
	m    *Metrics
	name string
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, objectstore.ErrNotExist):
		return "not_found"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

func (s *instrumented) count(op string, err error) {
	s.m.backendRequests.WithLabelValues(s.name, op, outcome(err)).Inc()
}

func (s *instrumented) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	obj, err := s.Store.Get(ctx, key, opts...)
	s.count("get", err)
	if err != nil {
		return nil, err
	}
	return &countedObject{Object: obj, c: s.m.backendBytes.WithLabelValues(s.name)}, nil
}

func (s *instrumented) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	info, err := s.Store.Stat(ctx, key)
	s.count("stat", err)
	return info, err
}

func (s *instrumented) Put(ctx context.Context, key string, size int64, r io.Reader) error {
	err := s.Store.Put(ctx, key, size, r)
	s.count("put", err)
	return err
}

func (s *instrumented) Delete(ctx context.Context, key string) error {
	err := s.Store.Delete(ctx, key)
	s.count("delete", err)
	return err
}

func (s *instrumented) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		var failed error
		for info, err := range s.Store.List(ctx, prefix) {
			failed = err
			if !yield(info, err) {
				break
			}
		}
		s.count("list", failed)
	}
}

type countedObject struct {
	objectstore.Object
	c prometheus.Counter
}

func (o *countedObject) Read(p []byte) (int, error) {
	n, err := o.Object.Read(p)
	o.c.Add(float64(n))
	return n, err
}

// Files keeps a file-backed store's files reachable, counted.
func (s *instrumented) Files() objectstore.Files {
	files := s.Store.Files()
	if files == nil {
		return nil
	}
	return instrumentedFiles{files, s}
}

type instrumentedFiles struct {
	files objectstore.Files
	s     *instrumented
}

// OpenFile opens the file behind a key, counted as a request.
func (f instrumentedFiles) OpenFile(key string) (*os.File, int64, error) {
	file, size, err := f.files.OpenFile(key)
	f.s.count("open", err)
	return file, size, err
}

func (f instrumentedFiles) ListKeys(ctx context.Context, prefix string, sized func() bool) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		var failed error
		for info, err := range f.files.ListKeys(ctx, prefix, sized) {
			failed = err
			if !yield(info, err) {
				break
			}
		}
		f.s.count("list", failed)
	}
}
