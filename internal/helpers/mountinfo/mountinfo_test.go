package mountinfo

import (
	"strings"
	"testing"
)

// Lines as Linux 6.18 writes them, with a mount on top of another and a
// mountpoint holding a space, a tab and a backslash.
const table = `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
29 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw
101 29 0:52 / /tmp/m rw,nosuid,nodev,relatime shared:50 - fuse.storefs /data rw,user_id=0,group_id=0
102 101 0:53 / /tmp/m ro,nosuid,nodev,relatime shared:51 - fuse.storefs /data2 ro,user_id=0,group_id=0
103 29 0:54 / /tmp/a\040b\011c\134d ro,relatime - fuse.storefs s3://b ro
104 29 0:55 / /tmp/short
garbage
`

func TestAt(t *testing.T) {
	for _, c := range []struct {
		dir  string
		want Mount
		ok   bool
	}{
		{"/", Mount{259, 1, "/", "ext4"}, true},
		{"/tmp/m", Mount{0, 53, "/tmp/m", "fuse.storefs"}, true}, // the one on top
		{"/tmp/a b\tc\\d", Mount{0, 54, "/tmp/a b\tc\\d", "fuse.storefs"}, true},
		{"/tmp/short", Mount{}, false}, // a line without its fstype is skipped
		{"/tmp", Mount{}, false},
		{"/tmp/a\\040b\\011c\\134d", Mount{}, false}, // the escaped form is not a path
	} {
		got, ok, err := at(strings.NewReader(table), c.dir)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("at(%q) = %+v, %v, %v; want %+v, %v", c.dir, got, ok, err, c.want, c.ok)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: "plain", `a\040b`: "a b", `end\04`: `end\04`, `x\999y`: `x\999y`, `\134\134`: `\\`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAtSelf reads this machine's table: / is always mounted.
func TestAtSelf(t *testing.T) {
	m, ok, err := At("/")
	if err != nil || !ok || m.FSType == "" {
		t.Fatalf("At(/) = %+v, %v, %v", m, ok, err)
	}
}
