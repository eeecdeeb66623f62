package blobstore

import (
	"strings"
	"testing"

	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
)

// referenceB32 is parseB32 by the libraries: decode with go-multibase,
// validate with go-multihash, and insist on re-encoding to the same text.
func referenceB32(name string) (mh.Multihash, bool) {
	if name == "" || len(name) > maxName || strings.ToLower(name) != name {
		return nil, false
	}
	_, d, err := multibase.Decode("b" + name)
	if err != nil {
		return nil, false
	}
	dec, err := mh.Decode(d)
	if err != nil {
		return nil, false
	}
	if _, ok := mh.Codes[dec.Code]; !ok {
		return nil, false
	}
	if s, _ := multibase.Encode(multibase.Base32, d); s[1:] != name {
		return nil, false
	}
	return d, true
}

func b32Seeds(t testing.TB) []string {
	var seeds []string
	for _, code := range []uint64{mh.IDENTITY, mh.SHA2_256, mh.SHA2_512, mh.BLAKE3, mh.MURMUR3X64_64} {
		for _, n := range []int{-1, 1, 4, 20} {
			d, err := mh.Sum([]byte("seed"), code, n)
			if err != nil {
				continue
			}
			seeds = append(seeds, Name(d))
		}
	}
	if len(seeds) < 8 {
		t.Fatalf("only %d seed names", len(seeds))
	}
	return seeds
}

// TestParseB32MatchesLibraries checks the hand decoder against the
// libraries on real names and every one-character change, truncation and
// extension of them.
func TestParseB32MatchesLibraries(t *testing.T) {
	alphabet := "abcxyz234567AZ018=_-"
	checked := 0
	for _, name := range b32Seeds(t) {
		variants := []string{name, strings.ToUpper(name), name + "a", name + "q", name[:len(name)-1], "b" + name}
		for i := range name {
			for _, c := range alphabet {
				variants = append(variants, name[:i]+string(c)+name[i+1:])
			}
			variants = append(variants, name[:i])
		}
		for _, v := range variants {
			got, gotOK := parseB32(v)
			want, wantOK := referenceB32(v)
			if gotOK != wantOK || string(got) != string(want) || validB32(v) != wantOK {
				t.Fatalf("parseB32(%q) = %x, %v (valid %v); libraries say %x, %v", v, got, gotOK, validB32(v), want, wantOK)
			}
			checkAppend(t, v, want, wantOK)
			checked++
		}
	}
	t.Logf("%d names agree", checked)
}

// checkAppend: AppendDigest after bytes already there (a digest arena)
// appends what parseB32 gives, and leaves them alone.
func checkAppend(t *testing.T, name string, want mh.Multihash, wantOK bool) {
	t.Helper()
	before := mh.Multihash(append(mh.Multihash(nil), b32Digest...))
	got, ok := AppendDigest(before, name)
	if ok != wantOK || (ok && string(got) != string(b32Digest)+string(want)) {
		t.Fatalf("AppendDigest(%x, %q) = %x, %v; want %x after it, %v", b32Digest, name, got, ok, want, wantOK)
	}
}

// b32Digest is a whole multihash, as an arena holds before the next one.
var b32Digest, _ = mh.Sum([]byte("an earlier digest"), mh.SHA2_256, -1)

func FuzzParseB32(f *testing.F) {
	for _, s := range b32Seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, gotOK := parseB32(name)
		want, wantOK := referenceB32(name)
		if gotOK != wantOK || string(got) != string(want) || validB32(name) != wantOK {
			t.Fatalf("parseB32(%q) = %x, %v (valid %v); libraries say %x, %v", name, got, gotOK, validB32(name), want, wantOK)
		}
		checkAppend(t, name, want, wantOK)
	})
}

func BenchmarkValidB32(b *testing.B) {
	name := b32Seeds(b)[5]
	for b.Loop() {
		if !validB32(name) {
			b.Fatal(name)
		}
	}
}
