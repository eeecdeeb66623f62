package mountopts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/mountopts"
)

func resolve(t *testing.T, in mountopts.Input) mountopts.Settings {
	t.Helper()
	if in.Scope == 0 && in.Options != nil {
		in.Scope = mountopts.Mount
	}
	s, err := mountopts.Resolve(in)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", in, err)
	}
	return s
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOptions(t *testing.T) {
	s := resolve(t, mountopts.Input{Scope: mountopts.Mount, Options: []string{
		"ro,allow_other,default_permissions,uid=1000,gid=100,debug,verify,timeout=5s,entry_timeout=2,attr_timeout=3,negative_timeout=0.5,rw,nodev,nosuid,noauto,_netdev,x-systemd.automount,fsname=x",
		"prefetch_budget=64,read_ahead_kb=512,no_passthrough,metrics_addr=127.0.0.1:9100,log_format=json",
	}})
	if !s.Mount.AllowOther || !s.Mount.DefaultPermissions || !s.Mount.Debug || !s.Mount.Verify || s.Mount.UID != 1000 || s.Mount.GID != 100 ||
		s.Store.Timeout != 5*time.Second || s.Mount.RecordTimeout != 2*time.Second || s.Mount.RecordAttrTimeout != 3*time.Second ||
		s.Mount.NegativeTimeout != 500*time.Millisecond || s.Mount.Prefetch.Budget != 64<<20 || s.Mount.ReadAheadKB != 512 ||
		!s.Mount.NoPassthrough || s.MetricsAddr != "127.0.0.1:9100" || s.LogFormat != "json" {
		t.Fatalf("resolved %+v", s)
	}
	for _, bad := range []string{"bogus", "uid=abc", "uid", "timeout=soon", "allow_other=1", "gid=-1",
		"prefetch_budget=0", "prefetch_budget=3", "prefetch_budget=3M", "prefetch_budget=-1", "read_ahead_kb=x",
		"timeout=0", "log_format=xml", "verify=yes", "s3_access_key_id=AK", "secret_access_key=SK"} {
		if _, err := mountopts.Resolve(mountopts.Input{Scope: mountopts.Mount, Options: []string{bad}}); !errors.Is(err, mountopts.ErrUsage) {
			t.Errorf("-o %s: %v, want a usage error", bad, err)
		}
	}
	// Credentials are refused with where they go instead.
	_, err := mountopts.Resolve(mountopts.Input{Scope: mountopts.Mount, Options: []string{"secret_access_key=SK"}})
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || strings.Contains(err.Error(), "SK") {
		t.Errorf("credentials in -o: %v", err)
	}
}

// A zero the user wrote is kept, not taken for "absent": defaults apply
// only to settings nobody set.
func TestDefaultsOnlyWhenAbsent(t *testing.T) {
	s := resolve(t, mountopts.Input{Scope: mountopts.Mount})
	if s.Mount.Prefetch.Budget != 128<<20 || s.Mount.ReadAheadKB != 1024 || s.Store.Timeout != 30*time.Second || s.Mount.RecordTimeout != 10*time.Second || s.LogFormat != "text" {
		t.Fatalf("defaults: %+v", s)
	}
	if s.From["prefetch-budget"] != mountopts.FromDefault {
		t.Errorf("prefetch-budget came from %v", s.From["prefetch-budget"])
	}
	s = resolve(t, mountopts.Input{Scope: mountopts.Mount, Options: []string{"read_ahead_kb=0,entry_timeout=0"}})
	if s.Mount.ReadAheadKB != 0 || s.Mount.RecordTimeout != 0 {
		t.Fatalf("explicit zeros: read-ahead %d KiB, entry timeout %v", s.Mount.ReadAheadKB, s.Mount.RecordTimeout)
	}
}

// flag > -o > environment > Piri config > default, for one setting at a
// time, each layer removed in turn.
func TestPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "piri.toml")
	os.WriteFile(cfg, []byte("[repo]\n[repo.s3]\nendpoint = \"10.0.0.1:9000\"\nbucket_prefix = \"from-piri-\"\n"), 0o600)
	full := mountopts.Input{
		Scope:   mountopts.Mount,
		Flags:   map[string]string{"config": cfg, "s3-bucket-prefix": "from-flag-", "prefetch-budget": "16"},
		Options: []string{"s3_bucket_prefix=from-opt-,prefetch_budget=32"},
		Env:     env(map[string]string{"STOREFS_S3_BUCKET_PREFIX": "from-env-", "STOREFS_PREFETCH_BUDGET": "48"}),
	}
	for _, c := range []struct {
		drop   func(in *mountopts.Input)
		prefix string
		budget int64
		from   mountopts.Layer
	}{
		{func(in *mountopts.Input) {}, "from-flag-", 16 << 20, mountopts.FromFlag},
		{func(in *mountopts.Input) { delete(in.Flags, "s3-bucket-prefix"); delete(in.Flags, "prefetch-budget") }, "from-opt-", 32 << 20, mountopts.FromOption},
		{func(in *mountopts.Input) { in.Options = nil }, "from-env-", 48 << 20, mountopts.FromEnv},
		{func(in *mountopts.Input) { in.Env = nil }, "from-piri-", 128 << 20, mountopts.FromPiri},
	} {
		in := full
		in.Flags = map[string]string{}
		for k, v := range full.Flags {
			in.Flags[k] = v
		}
		c.drop(&in)
		full = in
		s := resolve(t, in)
		if s.Store.S3 == nil || s.Store.S3.BucketPrefix != c.prefix || s.Mount.Prefetch.Budget != c.budget || s.From["s3-bucket-prefix"] != c.from {
			t.Fatalf("want prefix %s and budget %d from %v; got %+v, %d, from %v", c.prefix, c.budget, c.from, s.Store.S3, s.Mount.Prefetch.Budget, s.From["s3-bucket-prefix"])
		}
		if s.Store.S3.Endpoint != "10.0.0.1:9000" {
			t.Errorf("endpoint %q, want the config's", s.Store.S3.Endpoint)
		}
	}
}

func TestOneBackend(t *testing.T) {
	dir := t.TempDir()
	for _, in := range []mountopts.Input{
		{Flags: map[string]string{"data-dir": dir, "memory": "true"}},
		{Flags: map[string]string{"data-dir": dir, "s3-endpoint": "h:1"}},
		{Flags: map[string]string{"data-dir": dir}, Options: []string{"data_dir=" + dir}},
		{Flags: map[string]string{"config": "x.toml"}, Options: []string{"s3_endpoint=h:1"}},
		{Source: dir, Options: []string{"memory"}},
		{Env: env(map[string]string{"STOREFS_DATA_DIR": dir, "STOREFS_S3_ENDPOINT": "h:1"})},
		{Flags: map[string]string{"data-dir": dir, "s3-bucket-prefix": "p-"}}, // an S3 setting beside a data dir
		{Flags: map[string]string{"s3-insecure": "true"}},
	} {
		in.Scope = mountopts.Mount
		if _, err := mountopts.Resolve(in); !errors.Is(err, mountopts.ErrUsage) {
			t.Errorf("Resolve(%+v): %v, want a usage error", in, err)
		}
	}
	// The command line's backend beats the environment's; none is memory.
	s := resolve(t, mountopts.Input{Flags: map[string]string{"memory": "true"}, Env: env(map[string]string{"STOREFS_DATA_DIR": dir})})
	if s.Store.Backend() != "memory" {
		t.Errorf("--memory with $STOREFS_DATA_DIR: %s", s.Store.Backend())
	}
	if s := resolve(t, mountopts.Input{Env: env(map[string]string{"STOREFS_DATA_DIR": dir})}); s.Store.DataDir != dir {
		t.Errorf("$STOREFS_DATA_DIR alone: %+v", s.Store)
	}
	if s := resolve(t, mountopts.Input{}); s.Store.Backend() != "memory" {
		t.Errorf("no backend: %s", s.Store.Backend())
	}
	// An S3 setting in the environment does not break a data-dir mount.
	if s := resolve(t, mountopts.Input{Flags: map[string]string{"data-dir": dir}, Env: env(map[string]string{"STOREFS_S3_BUCKET_PREFIX": "p-"})}); s.Store.DataDir != dir {
		t.Errorf("data dir with an S3 prefix in the environment: %+v", s.Store)
	}
}

func TestCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(file, []byte("[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n[other]\naws_access_key_id = OTHERAK\naws_secret_access_key = OTHERSK\n"), 0o600)
	aws := map[string]string{"AWS_ACCESS_KEY_ID": "ENVAK", "AWS_SECRET_ACCESS_KEY": "ENVSK"}
	s := resolve(t, mountopts.Input{Flags: map[string]string{"s3-endpoint": "h:1", "s3-credentials-file": file}, Env: env(aws)})
	if s.Store.S3.AccessKeyID != "FILEAK" || s.Store.S3.SecretAccessKey != "FILESK" {
		t.Errorf("credentials file: %q", s.Store.S3.AccessKeyID)
	}
	aws["AWS_PROFILE"] = "other"
	s = resolve(t, mountopts.Input{Flags: map[string]string{"s3-endpoint": "h:1", "s3-credentials-file": file}, Env: env(aws)})
	if s.Store.S3.AccessKeyID != "OTHERAK" {
		t.Errorf("credentials file, profile other: %q", s.Store.S3.AccessKeyID)
	}
	s = resolve(t, mountopts.Input{Flags: map[string]string{"s3-endpoint": "h:1"}, Env: env(aws)})
	if s.Store.S3.AccessKeyID != "ENVAK" || s.Store.S3.SecretAccessKey != "ENVSK" {
		t.Errorf("environment credentials: %q", s.Store.S3.AccessKeyID)
	}
	_, err := mountopts.Resolve(mountopts.Input{Flags: map[string]string{"s3-endpoint": "h:1", "s3-credentials-file": file + ".missing"}})
	if err == nil || errors.Is(err, mountopts.ErrUsage) {
		t.Errorf("missing credentials file: %v, want an error (not usage)", err)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"64": 64 << 20, "64M": 64 << 20, "64m": 64 << 20, "1G": 1 << 30, "1GiB": 1 << 30,
		"512K": 512 << 10, "8MiB": 8 << 20, "100B": 100, "0": 0} {
		if got, err := mountopts.ParseSize(in, 1<<20); err != nil || got != want {
			t.Errorf("ParseSize(%q, MiB) = %d, %v; want %d", in, got, err, want)
		}
	}
	if got, _ := mountopts.ParseSize("512", 1); got != 512 {
		t.Errorf("a bare number of bytes: %d", got)
	}
	for _, bad := range []string{"", "M", "-1", "1.5M", "1T", "99999999999999999G", "ten"} {
		if _, err := mountopts.ParseSize(bad, 1); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestHelper(t *testing.T) {
	h, err := mountopts.ParseHelper([]string{"/var/lib/piri", "/mnt/piri", "-o", "ro,allow_other", "-overify"})
	if err != nil || h.Source != "/var/lib/piri" || h.Mountpoint != "/mnt/piri" || len(h.Options) != 2 || h.Options[1] != "verify" {
		t.Fatalf("%+v %v", h, err)
	}
	for _, bad := range [][]string{{"only-one"}, {"a", "b", "c"}, {"a", "b", "-o"}, {"a", "b", "--weird"}} {
		if _, err := mountopts.ParseHelper(bad); !errors.Is(err, mountopts.ErrUsage) {
			t.Errorf("ParseHelper(%q): %v", bad, err)
		}
	}
}

func TestSource(t *testing.T) {
	s := resolve(t, mountopts.Input{Scope: mountopts.Mount, Source: "s3://node1-@127.0.0.1:9000", Options: []string{"insecure"},
		Env: env(map[string]string{"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"})})
	if c := s.Store; c.S3 == nil || c.S3.BucketPrefix != "node1-" || c.S3.Endpoint != "127.0.0.1:9000" || !c.S3.Insecure || c.S3.SecretAccessKey != "SK" {
		t.Fatalf("%+v", c)
	}
	s = resolve(t, mountopts.Input{Scope: mountopts.Mount, Source: "/var/lib/piri"})
	if s.Store.DataDir != "/var/lib/piri" {
		t.Fatalf("%+v", s.Store)
	}
	if _, err := mountopts.Source("s3://prefix@"); !errors.Is(err, mountopts.ErrUsage) {
		t.Errorf("bad s3 source: %v", err)
	}
}

// Every setting has a flag, an -o name and an environment variable that
// derive from one name, and backend commands take no mount setting.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range mountopts.Table {
		if seen[s.Opt()] {
			t.Errorf("%s twice", s.Opt())
		}
		seen[s.Opt()] = true
		if s.Opt() != strings.ReplaceAll(s.Name, "-", "_") || s.Env() != "STOREFS_"+strings.ToUpper(s.Opt()) {
			t.Errorf("%s: -o %s, $%s", s.Name, s.Opt(), s.Env())
		}
		if strings.Contains(s.Name, "key") || strings.Contains(s.Name, "secret") {
			t.Errorf("%s looks like a credential", s.Name)
		}
	}
	if _, err := mountopts.Resolve(mountopts.Input{Scope: mountopts.Backend, Flags: map[string]string{"verify": "true"}}); !errors.Is(err, mountopts.ErrUsage) {
		t.Errorf("a mount setting on a backend command: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	dir := t.TempDir()
	second := filepath.Join(dir, "second.toml")
	third := filepath.Join(dir, "third.toml")
	for _, p := range []string{second, third} {
		os.WriteFile(p, []byte("[repo]\ndata_dir = \""+p+".d\"\n"), 0o600)
	}
	paths := []string{filepath.Join(dir, "missing.toml"), second, third}
	s := resolve(t, mountopts.Input{Discover: true, ConfigPaths: paths})
	if s.Found != second || s.Store.DataDir != second+".d" || s.Warning != "" {
		t.Fatalf("found %q (data dir %q), want the first that exists", s.Found, s.Store.DataDir)
	}
	s = resolve(t, mountopts.Input{Discover: true, ConfigPaths: paths[:1]})
	if s.Store.Backend() != "memory" || !strings.Contains(s.Warning, "memory") {
		t.Fatalf("none found: %s, warning %q", s.Store.Backend(), s.Warning)
	}
	// A backend named wins over discovery, and needs no warning.
	s = resolve(t, mountopts.Input{Discover: true, ConfigPaths: paths, Flags: map[string]string{"memory": "true"}})
	if s.Found != "" || s.Warning != "" || s.Store.Backend() != "memory" {
		t.Fatalf("--memory with discovery: %+v", s)
	}
	if _, err := mountopts.Resolve(mountopts.Input{Explicit: true}); !errors.Is(err, mountopts.ErrUsage) {
		t.Errorf("a write with no backend named: %v", err)
	}
}
