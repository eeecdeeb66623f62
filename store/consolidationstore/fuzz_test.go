package consolidationstore_test

import (
	"testing"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/codectest"
	"github.com/storacha/storefs/store/consolidationstore"
)

func FuzzCodec(f *testing.F) {
	set, err := sample.New()
	if err != nil {
		f.Fatal(err)
	}
	codectest.Fuzz(f, consolidationstore.Codec{}, "bafyreif7nc3ikizesulqcg5rlirv6oaapdy6a6zgm4yqa22vfphdnhhyrm", set.Consolidations)
}
