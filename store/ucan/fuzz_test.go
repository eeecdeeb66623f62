package ucan_test

import (
	"testing"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

// seed adds every fixture; decoders must never panic on any input.
func seed(f *testing.F) {
	for _, b := range fixtures.All() {
		f.Add(b)
	}
	f.Add([]byte{})
}

func FuzzReadCAR(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) { ucan.ReadCAR(data) })
}

func FuzzDelegationArchive(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _, err := ucan.DecodeDelegationArchive(data)
		if err == nil {
			if _, err := d.JSON(); err != nil {
				t.Fatalf("decoded but does not render: %v", err)
			}
		}
	})
}

func FuzzUCANBlock(f *testing.F) {
	for _, b := range fixtures.All() {
		if c, err := ucan.ReadCAR(b); err == nil {
			for _, block := range c.Blocks {
				f.Add(block)
			}
		}
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		d, err := ucan.DecodeDelegation(ipldutil.CBORCID(block), block)
		if err == nil {
			d.JSON()
			d.Encode()
		}
	})
}

func FuzzReceipt(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := ucan.DecodeReceiptCAR(data); err == nil {
			if _, err := r.JSON(); err != nil {
				t.Fatalf("decoded but does not render: %v", err)
			}
		}
		if r, err := ucan.DecodeReceiptArchive(data); err == nil {
			r.JSON()
		}
	})
}
