package blobstore_test

import (
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
)

var minioPutOpts = minio.PutObjectOptions{DisableContentSha256: true}

func readBlob(t *testing.T, s blobstore.Store, d mh.Multihash) []byte {
	t.Helper()
	obj, err := s.Get(context.Background(), d)
	if err != nil {
		t.Fatalf("get %s: %v", blobstore.Name(d), err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s: %v", blobstore.Name(d), err)
	}
	return data
}
