package acceptancestore_test

import (
	"testing"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/codectest"
	"github.com/storacha/storefs/store/acceptancestore"
)

func FuzzCodec(f *testing.F) {
	set, err := sample.New()
	if err != nil {
		f.Fatal(err)
	}
	codectest.Fuzz(f, acceptancestore.Codec{}, "", set.Acceptances)
}
