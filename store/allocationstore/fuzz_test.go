package allocationstore_test

import (
	"testing"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/codectest"
	"github.com/storacha/storefs/store/allocationstore"
)

func FuzzCodec(f *testing.F) {
	set, err := sample.New()
	if err != nil {
		f.Fatal(err)
	}
	codectest.Fuzz(f, allocationstore.Codec{}, "", set.Allocations)
}
