package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

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
