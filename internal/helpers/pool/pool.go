// Package pool runs work over a stream of items on a fixed number of
// goroutines, handing results back to the caller's goroutine: record
// stores are read one request per record, and on S3 a request is a round
// trip, so reads of many records overlap.
package pool

import (
	"context"
	"iter"
	"sync"
)

// Each runs work on every item on jobs goroutines, and hands each result
// to handle in the calling goroutine, so handle needs no lock. Results
// come in the order work finishes. An error from the listing, or one
// handle returns, stops the run and is returned.
func Each[I, T any](ctx context.Context, jobs int, items iter.Seq2[I, error], work func(context.Context, I) (T, error), handle func(I, T, error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		item I
		val  T
		err  error
	}
	in := make(chan I, jobs*4)
	out := make(chan result, jobs*4)
	var listErr error
	go func() {
		defer close(in)
		for item, err := range items {
			if err != nil {
				listErr = err
				return
			}
			select {
			case in <- item:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for item := range in {
				v, err := work(ctx, item)
				out <- result{item, v, err}
			}
		})
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	var stop error
	for r := range out {
		if stop != nil {
			continue // drain
		}
		if err := handle(r.item, r.val, r.err); err != nil {
			stop = err
			cancel()
		}
	}
	if stop != nil {
		return stop
	}
	if listErr != nil {
		return listErr
	}
	return ctx.Err()
}
