// Package codectest is the fuzz harness every record codec shares: seeded
// with real encodings and the UCAN fixtures, no input may make the decoder
// panic, and whatever decodes must render and re-encode.
package codectest

import (
	"testing"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
)

// Codec is the genericstore codec shape, for records that render as JSON.
type Codec[T interface{ JSON() ([]byte, error) }] interface {
	Encode(T) ([]byte, error)
	Decode(id string, data []byte) (T, error)
}

// Fuzz runs the harness; id is passed to Decode.
func Fuzz[T interface{ JSON() ([]byte, error) }](f *testing.F, codec Codec[T], id string, seeds []T) {
	for _, rec := range seeds {
		data, err := codec.Encode(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range fixtures.All() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := codec.Decode(id, data)
		if err != nil {
			return
		}
		if _, err := rec.JSON(); err != nil {
			t.Fatalf("decoded but does not render: %v", err)
		}
		codec.Encode(rec)
	})
}
