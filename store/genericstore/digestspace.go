package genericstore

import (
	"fmt"
	"strings"

	"github.com/storacha/storefs/store/blobstore"
)

// DigestSpace keys records by blob and space, as Piri's allocation and
// acceptance stores do: backend key "<base58btc digest>/<space DID><Suffix>"
// (base58btc with its 'z'), id "<b32 name>/<space DID>" so ids match
// /blobs names.
type DigestSpace struct{ Suffix string }

func (k DigestSpace) Key(id string) (string, error) {
	name, space, ok := strings.Cut(id, "/")
	if !ok || !strings.HasPrefix(space, "did:") || strings.ContainsAny(space, "/\x00") {
		return "", fmt.Errorf("invalid id %q: want <blob>/<space DID>", id)
	}
	digest, err := blobstore.ParseName(name)
	if err != nil {
		return "", err
	}
	return "z" + blobstore.Base58(digest) + "/" + space + k.Suffix, nil
}

func (k DigestSpace) ID(key string) (string, bool) {
	b58, rest, ok := strings.Cut(key, "/")
	if !ok || !strings.HasPrefix(b58, "z") {
		return "", false
	}
	space, ok := strings.CutSuffix(rest, k.Suffix)
	if !ok || !strings.HasPrefix(space, "did:") || strings.Contains(space, "/") {
		return "", false
	}
	digest, err := blobstore.ParseName(b58)
	if err != nil {
		return "", false
	}
	return blobstore.Name(digest) + "/" + space, true
}

// ListPrefix narrows a listing to one blob when the prefix names it.
func (k DigestSpace) ListPrefix(idPrefix string) (string, bool) {
	name, _, ok := strings.Cut(idPrefix, "/")
	if !ok {
		return "", false
	}
	digest, err := blobstore.ParseName(name)
	if err != nil {
		return "", false
	}
	return "z" + blobstore.Base58(digest) + "/", true
}
