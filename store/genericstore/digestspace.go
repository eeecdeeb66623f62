package genericstore

import (
	"fmt"
	"strings"

	"github.com/storacha/storefs/store/blobstore"
)

// DigestSpace keys records by blob and space, as Piri's allocation and
// acceptance stores do: backend key "<base58btc digest>/<space DID><Suffix>"
// (base58btc with its 'z'), id "<b32 name>/<space DID>" so ids match
// /blobs names. Allocations written before Piri v0.0.14 are keyed by
// their cause instead, "<digest>/<cause CID>" (v0.2.4 still finds them by
// the digest prefix): ids "<b32 name>/<cause CID>".
type DigestSpace struct{ Suffix string }

// second is a key's part after the digest: a space DID, or a cause CID.
func second(s string) bool {
	if strings.ContainsAny(s, "/\x00") {
		return false
	}
	if strings.HasPrefix(s, "did:") {
		return true
	}
	_, err := ParseCID(s)
	return err == nil
}

func (k DigestSpace) Key(id string) (string, error) {
	name, space, ok := strings.Cut(id, "/")
	if !ok || !second(space) {
		return "", fmt.Errorf("invalid id %q: want <blob>/<space DID> (or <blob>/<cause CID>)", id)
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
	if !ok || !second(space) {
		return "", false
	}
	digest, err := blobstore.ParseName(b58)
	if err != nil {
		return "", false
	}
	return blobstore.Name(digest) + "/" + space, true
}

// Other is false: nothing else shares an allocation or acceptance store.
func (DigestSpace) Other(string) bool { return false }

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
