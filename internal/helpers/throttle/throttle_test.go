package throttle_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/storacha/storefs/internal/helpers/throttle"
)

// TestReaderPassesEveryByte: bytes and their count come through whole,
// with a cap and without; a cancelled context ends a capped read.
func TestReaderPassesEveryByte(t *testing.T) {
	data := bytes.Repeat([]byte("throttle"), 100000)
	for _, l := range []*throttle.Limit{nil, throttle.New(1 << 30)} {
		var counted int
		got, err := io.ReadAll(l.Reader(context.Background(), bytes.NewReader(data), func(n int) { counted += n }))
		if err != nil || !bytes.Equal(got, data) || counted != len(data) {
			t.Fatalf("limit %v: %d bytes, counted %d, %v", l, len(got), counted, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := io.ReadAll(throttle.New(1).Reader(ctx, bytes.NewReader(data), nil)); err == nil {
		t.Fatal("a cancelled, capped read ended without an error")
	}
	if throttle.New(0) != nil {
		t.Fatal("0 is no cap")
	}
}
