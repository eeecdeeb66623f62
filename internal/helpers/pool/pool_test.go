package pool_test

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/helpers/pool"
)

func numbers(n int, failAt int) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		for i := range n {
			if i == failAt {
				yield(0, errors.New("listing failed"))
				return
			}
			if !yield(i, nil) {
				return
			}
		}
	}
}

func double(_ context.Context, i int) (int, error) { return 2 * i, nil }

func TestEveryItemOnce(t *testing.T) {
	seen := map[int]int{}
	err := pool.Each(context.Background(), 3, numbers(1000, -1), double, func(i, v int, err error) error {
		if err != nil || v != 2*i {
			t.Fatalf("%d -> %d, %v", i, v, err)
		}
		seen[i]++
		return nil
	})
	if err != nil || len(seen) != 1000 {
		t.Fatalf("%d items, %v", len(seen), err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("%d handled %d times", i, n)
		}
	}
}

func TestErrorsStopTheRun(t *testing.T) {
	before := runtime.NumGoroutine()
	n := 0
	err := pool.Each(context.Background(), 4, numbers(1<<20, -1), double, func(i, v int, err error) error {
		if n++; n == 10 {
			return errors.New("stop here")
		}
		return nil
	})
	if err == nil || err.Error() != "stop here" || n > 10 {
		t.Fatalf("handled %d, %v", n, err)
	}
	if err := pool.Each(context.Background(), 2, numbers(100, 50), double, func(int, int, error) error { return nil }); err == nil || err.Error() != "listing failed" {
		t.Fatalf("listing error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pool.Each(ctx, 2, numbers(1<<20, -1), double, func(int, int, error) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// Every goroutine of the runs has ended.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines, %d before", g, before)
	}
}
