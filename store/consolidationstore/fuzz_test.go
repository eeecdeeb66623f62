package consolidationstore_test

import (
	"testing"

	"github.com/storacha/storefs/internal/fixtures"
	"github.com/storacha/storefs/internal/sample"
	"github.com/storacha/storefs/store/consolidationstore"
)

// FuzzCodec: no input makes the decoder panic, and what decodes renders
// and re-encodes.
func FuzzCodec(f *testing.F) {
	set, err := sample.New()
	if err != nil {
		f.Fatal(err)
	}
	for _, rec := range set.Consolidations {
		data, err := consolidationstore.Codec{}.Encode(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range fixtures.All() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := consolidationstore.Codec{}.Decode("bafyreif7nc3ikizesulqcg5rlirv6oaapdy6a6zgm4yqa22vfphdnhhyrm", data)
		if err != nil {
			return
		}
		if _, err := rec.JSON(); err != nil {
			t.Fatalf("decoded but does not render: %v", err)
		}
		consolidationstore.Codec{}.Encode(rec)
	})
}
