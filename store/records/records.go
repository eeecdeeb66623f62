// Package records is the one place that knows the record kinds a node
// keeps and how each is listed, rendered and shown as stored bytes: the
// mount and the record commands both use it.
package records

import (
	"context"
	"iter"
	"strings"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/delegationstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/receiptstore"
)

// Stores are a node's typed record stores. A nil store is left out.
type Stores struct {
	Allocations    *allocationstore.Store
	Acceptances    *acceptancestore.Store
	Consolidations *consolidationstore.Store
	Delegations    *delegationstore.Store
	Receipts       *receiptstore.Store
}

// Kind is one kind of record. Ids may hold '/': each is a directory level
// in the mount (allocations: "<b32>/<space DID>").
type Kind struct {
	Name   string // as the mount's directory and the CLI's KIND
	RawExt string // the stored-bytes file: "cbor" or "car"
	List   func(ctx context.Context, prefix string) iter.Seq2[genericstore.Entry, error]
	JSON   func(ctx context.Context, id string) ([]byte, error)
	Raw    func(ctx context.Context, id string) ([]byte, error)
	// Ran is the receipts' index by invocation (ran) CID; nil for every
	// other kind.
	Ran *receiptstore.Store
}

// Kinds lists the kinds present, in a fixed order.
func (s Stores) Kinds() []Kind {
	var out []Kind
	if s.Allocations != nil {
		out = append(out, generic("allocations", "cbor", s.Allocations))
	}
	if s.Acceptances != nil {
		out = append(out, generic("acceptances", "cbor", s.Acceptances))
	}
	if c := s.Consolidations; c != nil {
		out = append(out, Kind{Name: "consolidations", RawExt: "cbor",
			List: func(ctx context.Context, prefix string) iter.Seq2[genericstore.Entry, error] {
				return func(yield func(genericstore.Entry, error) bool) {
					for e, err := range c.List(ctx) {
						if err == nil && !strings.HasPrefix(e.ID, prefix) {
							continue
						}
						if !yield(e, err) {
							return
						}
					}
				}
			},
			JSON: func(ctx context.Context, id string) ([]byte, error) { return render(c.Get(ctx, id)) },
			Raw:  c.Raw,
		})
	}
	if s.Delegations != nil {
		out = append(out, generic("delegations", "car", s.Delegations))
	}
	if s.Receipts != nil {
		k := generic("receipts", "car", s.Receipts.Store)
		k.Ran = s.Receipts
		out = append(out, k)
	}
	return out
}

// Names are the names of every kind.
var Names = []string{"allocations", "acceptances", "consolidations", "delegations", "receipts"}

type jsoner interface{ JSON() ([]byte, error) }

func generic[T jsoner](name, ext string, s *genericstore.Store[T]) Kind {
	return Kind{Name: name, RawExt: ext, List: s.List, Raw: s.Raw,
		JSON: func(ctx context.Context, id string) ([]byte, error) { return render(s.Get(ctx, id)) }}
}

func render[T jsoner](rec T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return rec.JSON()
}
