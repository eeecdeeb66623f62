// Package keystore is Piri's key store: a LevelDB of named secrets (the
// node's identity key among them). storefs opens it only to keep it out of
// everything else: its values are never listed, rendered or logged, and
// the Secret type refuses to print itself.
package keystore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
)

// Dir is the keystore's directory inside a data_dir, as Piri names it
// (its KeyStore config: <data_dir>/wallet, namespace /keystore/).
const Dir = "wallet"

// Secret holds key material. Every way of printing it prints a mask.
type Secret struct{ b []byte }

const mask = "[secret]"

func (Secret) String() string               { return mask }
func (Secret) GoString() string             { return mask }
func (Secret) Format(f fmt.State, _ rune)   { f.Write([]byte(mask)) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + mask + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(mask), nil }
func (Secret) LogValue() slog.Value         { return slog.StringValue(mask) }
func NewSecret(b []byte) Secret             { return Secret{b: append([]byte(nil), b...)} }
func (s Secret) Equal(o Secret) bool        { return string(s.b) == string(o.b) }

// Store is an open keystore.
type Store struct{ db *dsadapter.Store }

// Open opens the keystore LevelDB in dir.
func Open(dir string, readOnly bool) (*Store, error) {
	db, err := dsadapter.OpenLevelDB(dir, readOnly)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &Store{db: db}, nil
}

func (s *Store) Close() error { return s.db.Close() }

// Put stores a secret under name.
func (s *Store) Put(ctx context.Context, name string, secret Secret) error {
	if err := objectstore.Put(ctx, s.db, "keystore/"+name, secret.b); err != nil {
		return fmt.Errorf("keystore put %s: %w", name, err)
	}
	return nil
}

// Get returns the secret called name.
func (s *Store) Get(ctx context.Context, name string) (Secret, error) {
	b, err := objectstore.ReadAll(ctx, s.db, "keystore/"+name, 1<<20)
	if err != nil {
		return Secret{}, fmt.Errorf("keystore get %s: %w", name, err)
	}
	return Secret{b: b}, nil
}
