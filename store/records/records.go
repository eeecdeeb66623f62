// Package records is the one place that knows the record kinds a node
// keeps and how each is listed, rendered and shown as stored bytes: the
// mount and the record commands both use it.
package records

import (
	"context"
	"iter"
	"strings"
	"time"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/delegationstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/recordkind"
)

// Stores are a node's typed record stores. A nil store is left out.
type Stores struct {
	Allocations    *allocationstore.Store
	Acceptances    *acceptancestore.Store
	Consolidations *consolidationstore.Store
	Delegations    *delegationstore.Store
	Receipts       *receiptstore.Store
}

// Kind is one kind of record: its row of recordkind, and how its
// records are read. Ids may hold '/': each is a directory level in the
// mount (allocations: "<b32>/<space DID>").
type Kind struct {
	recordkind.Kind
	List func(ctx context.Context, prefix string) iter.Seq2[genericstore.Entry, error]
	// JSON renders a record, and Raw reads its stored bytes; each with the
	// record's time: its own where it has one (an acceptance's
	// executedAt), else when the backend stored it, else zero (LevelDB).
	JSON func(ctx context.Context, id string) ([]byte, time.Time, error)
	Raw  func(ctx context.Context, id string) ([]byte, time.Time, error)
	// Ran is the receipts' index by invocation (ran) CID; nil for every
	// other kind.
	Ran *receiptstore.Store
}

// Kinds lists the kinds present, in a fixed order.
func (s Stores) Kinds() []Kind {
	var out []Kind
	if s.Allocations != nil {
		out = append(out, generic(recordkind.Allocations, s.Allocations, nil))
	}
	if s.Acceptances != nil {
		out = append(out, generic(recordkind.Acceptances, s.Acceptances, acceptedAt))
	}
	if c := s.Consolidations; c != nil {
		out = append(out, Kind{Kind: recordkind.Consolidations,
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
			// The split form has no stored time of its own.
			JSON: func(ctx context.Context, id string) ([]byte, time.Time, error) {
				data, err := render(c.Get(ctx, id))
				return data, time.Time{}, err
			},
			Raw: func(ctx context.Context, id string) ([]byte, time.Time, error) {
				data, err := c.Raw(ctx, id)
				return data, time.Time{}, err
			},
		})
	}
	if s.Delegations != nil {
		out = append(out, generic(recordkind.Delegations, s.Delegations, nil))
	}
	if s.Receipts != nil {
		k := generic(recordkind.Receipts, s.Receipts.Store, nil)
		k.Ran = s.Receipts
		out = append(out, k)
	}
	return out
}

// Names are the names of every kind.
var Names = recordkind.Names()

type jsoner interface{ JSON() ([]byte, error) }

// generic adapts a typed store; timeOf, when set, gives a record's own
// time (zero: none).
func generic[T jsoner](k recordkind.Kind, s *genericstore.Store[T], timeOf func(T) time.Time) Kind {
	return Kind{Kind: k, List: s.List,
		Raw: func(ctx context.Context, id string) ([]byte, time.Time, error) {
			data, mod, err := s.RawTime(ctx, id)
			if err != nil || timeOf == nil {
				return data, mod, err
			}
			// The stored bytes of a record that does not decode still
			// show, with the backend's time.
			if rec, err := s.Decode(id, data); err == nil {
				mod = own(timeOf(rec), mod)
			}
			return data, mod, nil
		},
		JSON: func(ctx context.Context, id string) ([]byte, time.Time, error) {
			rec, mod, err := s.GetTime(ctx, id)
			if err != nil {
				return nil, time.Time{}, err
			}
			data, err := rec.JSON()
			if timeOf != nil {
				mod = own(timeOf(rec), mod)
			}
			return data, mod, err
		}}
}

// own is a record's own time where it has one, else the backend's.
func own(t, backend time.Time) time.Time {
	if t.IsZero() {
		return backend
	}
	return t
}

// acceptedAt is an acceptance's executedAt: Unix seconds, as Piri writes
// it (a value too large for seconds is taken as milliseconds).
func acceptedAt(a acceptancestore.Acceptance) time.Time {
	switch {
	case a.ExecutedAt <= 0:
		return time.Time{}
	case a.ExecutedAt > 1e11:
		return time.UnixMilli(a.ExecutedAt)
	}
	return time.Unix(a.ExecutedAt, 0)
}

func render[T jsoner](rec T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return rec.JSON()
}
