// Package delegationstore keeps delegations (Piri's claim store is the same
// store) as delegation archives: CARs whose root is {"ucan@0.9.1": link},
// keyed by the UCAN's CID.
package delegationstore

import (
	"fmt"

	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/ucan"
)

// Store is the delegation store.
type Store = genericstore.Store[*ucan.Delegation]

// ClaimStore is Piri's name for the same store.
type ClaimStore = Store

// New is the store over objects, Piri's claim/ LevelDB or its
// <prefix>claims bucket (keys: recordkind.Delegations).
func New(objects objectstore.Store, b recordkind.Backend) *Store {
	k := recordkind.Delegations
	return genericstore.New(k.Name, objects, Codec{}, k.Keys(b))
}

// Codec is the delegation archive.
type Codec struct{}

func (Codec) Encode(d *ucan.Delegation) ([]byte, error) { return ucan.EncodeDelegationArchive(d) }

func (Codec) Decode(id string, data []byte) (*ucan.Delegation, error) {
	d, _, err := ucan.DecodeDelegationArchive(data)
	if err != nil {
		return nil, err
	}
	if id != "" && d.CID.String() != id {
		return nil, fmt.Errorf("archive holds ucan %s, stored as %s", d.CID, id)
	}
	return d, nil
}
