package minio

import (
	"slices"
	"testing"

	"github.com/storacha/storefs/store/objectstore"
)

// TestTopLevelOrder: a delimiter listing as minio-go yields it (each
// page's objects, then its prefixes) comes back in key order.
func TestTopLevelOrder(t *testing.T) {
	pages := [][]string{
		{"05bare", "ciqa", "ciqb", "00/", "04/", "ci/"}, // objects, then prefixes
		{"ciqc", "zz", "cj/", "cz/", "z2/"},             // every key after the page before
		{"zzz"},
		{"zzzz/"},
	}
	var got, want []string
	var top topLevel
	for _, page := range pages {
		for _, key := range page {
			want = append(want, key)
			prefix := key[len(key)-1] == '/'
			for _, o := range top.next(objectstore.Info{Key: key}, prefix) {
				got = append(got, o.Key)
			}
			if prefix {
				got = append(got, key)
			}
		}
	}
	for _, o := range top.held {
		got = append(got, o.Key)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
