package sample

import (
	"embed"
	"io/fs"
)

// uploadFiles is a real upload, made once with the Storacha JS client
// (scripts/js-golden): its two CAR shards and its index blob, each named
// by its b32 multihash, and manifest.json (root, shards, index, each
// file's sha256). The demo stores it so /cars and /content have
// something to show; the tests read it through testsupport/jsupload.
//
//go:embed upload
var uploadFiles embed.FS

// UploadFiles is the upload's directory: the blobs and manifest.json.
func UploadFiles() fs.FS {
	sub, err := fs.Sub(uploadFiles, "upload")
	if err != nil {
		panic(err) // the embedded directory is there by construction
	}
	return sub
}
