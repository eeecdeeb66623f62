package mountopts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/storacha/storefs/mountopts"
)

func TestParse(t *testing.T) {
	var o mountopts.Options
	err := mountopts.Parse("ro,allow_other,default_permissions,uid=1000,gid=100,debug,verify,timeout=5s,entry_timeout=2,negative_timeout=0.5,rw,nodev,nosuid,noauto,_netdev,x-systemd.automount,fsname=x", &o)
	if err != nil {
		t.Fatal(err)
	}
	if !o.AllowOther || !o.DefaultPermissions || !o.Debug || !o.Verify || *o.UID != 1000 || *o.GID != 100 ||
		o.Timeout != 5*time.Second || o.EntryTimeout != 2*time.Second || o.NegativeTimeout != 500*time.Millisecond {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range []string{"bogus", "uid=abc", "uid", "timeout=soon", "allow_other=1", "gid=-1"} {
		if err := mountopts.Parse(bad, &mountopts.Options{}); !errors.Is(err, mountopts.ErrUsage) {
			t.Errorf("Parse(%q): %v, want a usage error", bad, err)
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
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
	c, err := mountopts.Source("s3://node1-@127.0.0.1:9000", mountopts.Options{Insecure: true}, func(k string) string { return env[k] })
	if err != nil || c.S3 == nil || c.S3.BucketPrefix != "node1-" || c.S3.Endpoint != "127.0.0.1:9000" || !c.S3.Insecure || c.S3.SecretAccessKey != "SK" {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = mountopts.Source("/var/lib/piri", mountopts.Options{}, func(string) string { return "" })
	if err != nil || c.DataDir != "/var/lib/piri" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := mountopts.Source("s3://prefix@", mountopts.Options{}, func(string) string { return "" }); !errors.Is(err, mountopts.ErrUsage) {
		t.Errorf("bad s3 source: %v", err)
	}
}
