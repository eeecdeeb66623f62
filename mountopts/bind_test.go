package mountopts

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/objectstore/minio"
)

// Every setting but the memory switch has a destination of its kind's
// type, and no two share one: a setting's value lands in exactly one
// field, and none is copied by hand.
func TestEveryValueHasItsField(t *testing.T) {
	want := map[Kind][]reflect.Type{
		Bool: {reflect.TypeFor[*bool]()}, String: {reflect.TypeFor[*string]()},
		Duration: {reflect.TypeFor[*time.Duration]()}, ID: {reflect.TypeFor[*uint32]()},
		Size: {reflect.TypeFor[*int64](), reflect.TypeFor[*int]()},
	}
	tg := &target{out: &Settings{}}
	seen := map[any]string{}
	for _, s := range Table {
		if s.to == nil {
			if s.backend != memoryBackend {
				t.Errorf("%s has no destination", s.Name)
			}
			continue
		}
		dst := s.to(tg)
		ok := false
		for _, typ := range want[s.Kind] {
			ok = ok || reflect.TypeOf(dst) == typ
		}
		if !ok {
			t.Errorf("%s: destination %T for a value of kind %d", s.Name, dst, s.Kind)
		}
		if other, dup := seen[dst]; dup {
			t.Errorf("%s and %s go to one field", s.Name, other)
		}
		seen[dst] = s.Name
	}
}

// The defaults are the table's, read from the code that owns them where
// it does; the mount's operation bound is the backend's timeout.
func TestDefaults(t *testing.T) {
	d := Defaults()
	m := d.Mount
	if m.RecordTimeout != 10*time.Second || m.RecordAttrTimeout != 10*time.Second || m.NegativeTimeout != time.Second ||
		m.ReadAheadKB != 1024 || m.Prefetch.Budget != prefetch.Defaults.Budget || d.Store.Timeout != minio.DefaultTimeout ||
		m.OpTimeout != d.Store.Timeout || d.CacheSize != 5<<30 || d.LogFormat != "text" {
		t.Fatalf("defaults: %+v", d)
	}
	if m.UID != uint32(os.Getuid()) || m.GID != uint32(os.Getgid()) {
		t.Errorf("owner %d:%d, want the mounting user's", m.UID, m.GID)
	}
	if d.Store.Backend() != "memory" || m.Verify || m.AllowOther {
		t.Errorf("defaults: %+v", d)
	}
}

// A setting that needs another is refused alone, unless it is only its
// default.
func TestNeeds(t *testing.T) {
	if _, err := Resolve(Input{Scope: Mount, Options: []string{"cache_size=1G"}}); err == nil || !strings.Contains(err.Error(), "needs --cache-dir") {
		t.Errorf("cache_size alone: %v", err)
	}
	s, err := Resolve(Input{Scope: Mount, Options: []string{"cache_size=1G,cache_dir=/c"}})
	if err != nil || s.CacheSize != 1<<30 || s.CacheDir != "/c" {
		t.Errorf("cache_size with cache_dir: %+v, %v", s, err)
	}
}

// The catalogue's place follows the user's cache directory, else the
// system's, unless set.
func TestCatalogDir(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/storefs/catalog"},
		{map[string]string{"HOME": "/h"}, "/h/.cache/storefs/catalog"},
		{nil, "/var/cache/storefs/catalog"},
		{map[string]string{"HOME": "/h", "STOREFS_CATALOG_DIR": "/set"}, "/set"},
	} {
		s, err := Resolve(Input{Env: func(k string) string { return c.env[k] }})
		if err != nil || s.CatalogDir != c.want {
			t.Errorf("env %v: %q, %v; want %q", c.env, s.CatalogDir, err, c.want)
		}
	}
}
