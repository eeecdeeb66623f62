// Package throttle caps the bytes per second a job reads (check --verify,
// copy), so a live node keeps serving, and counts them as progress.
package throttle

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// Limit is a shared byte rate; nil reads without a cap.
type Limit struct{ l *rate.Limiter }

// New caps reads at perSecond bytes; 0 (or less) is no cap: nil.
func New(perSecond int64) *Limit {
	if perSecond <= 0 {
		return nil
	}
	return &Limit{rate.NewLimiter(rate.Limit(perSecond), int(min(perSecond, 1<<20)))}
}

// Reader reads r within the limit, telling count (may be nil) of each
// read's bytes.
func (l *Limit) Reader(ctx context.Context, r io.Reader, count func(int)) io.Reader {
	return &reader{ctx: ctx, r: r, l: l, count: count}
}

type reader struct {
	ctx   context.Context
	r     io.Reader
	l     *Limit
	count func(int)
}

func (r *reader) Read(p []byte) (int, error) {
	if r.l != nil && len(p) > r.l.l.Burst() {
		p = p[:r.l.l.Burst()] // a wait is for at most one burst
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if r.l != nil {
			if werr := r.l.l.WaitN(r.ctx, n); werr != nil {
				return n, werr
			}
		}
		if r.count != nil {
			r.count(n)
		}
	}
	return n, err
}
