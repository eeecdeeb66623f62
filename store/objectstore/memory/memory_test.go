package memory_test

import (
	"testing"

	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/objectstore/objectstoretest"
)

func TestConformance(t *testing.T) {
	objectstoretest.Run(t, objectstoretest.Backend{
		Ordered: true,
		New:     func(t *testing.T) objectstore.Store { return memory.New() },
		Times:   true,
	})
}

func BenchmarkRangedGet(b *testing.B) { objectstoretest.Bench(b, memory.New(), "bench") }
