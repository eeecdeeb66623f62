package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/internal/testsupport/s3test"
)

func TestCompletion(t *testing.T) {
	if out := run(t, bin, "blob", "--generate-bash-completion"); !strings.Contains(out, "verify") {
		t.Errorf("completion words for blob: %q", out)
	}
	script := filepath.Join(t.TempDir(), "c.bash")
	os.WriteFile(script, []byte(run(t, bin, "completion", "bash")), 0o644)
	// bash itself completes `storefs bl` to blob with the script
	out := run(t, "bash", "-c", fmt.Sprintf(`source %s; PATH=%s:$PATH; COMP_WORDS=(storefs bl); COMP_CWORD=1; _storefs_complete; echo "${COMPREPLY[@]}"`, script, filepath.Dir(bin)))
	if strings.TrimSpace(out) != "blob" {
		t.Errorf("bash completion of 'storefs bl': %q", out)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metric(t *testing.T, text, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in\n%s", name, text)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestMetrics scrapes /metrics and sees storefs_ series move with reads.
func TestMetrics(t *testing.T) {
	n := s3Node(t, s3test.Start(t))
	mnt := t.TempDir()
	addr := freeAddr(t)
	startMount(t, mnt, append(n.args, "--metrics-addr", addr)...)
	before := scrape(t, addr)
	for _, want := range []string{"storefs_read_mode{mode=\"daemon\"} 1", "storefs_prefetch_bytes_in_use", "storefs_served_bytes_total 0"} {
		if !strings.Contains(before, want) {
			t.Errorf("metrics before reading lack %q", want)
		}
	}
	run(t, "cat", filepath.Join(mnt, "blobs", "ciqnm5m4exqihiysyohgpw5xbipfux6arkf624qgren2iyeioxhjtai"))
	run(t, "ls", "-l", filepath.Join(mnt, "receipts"))
	after := scrape(t, addr)
	if served := metric(t, after, "storefs_served_bytes_total"); served < 262144 {
		t.Errorf("served bytes %v after reading a 256 KiB blob", served)
	}
	if got := metric(t, after, `storefs_backend_read_bytes_total{store="blobs"}`); got < 262144 {
		t.Errorf("backend bytes %v", got)
	}
	for _, series := range []string{`storefs_backend_requests_total{op="get",outcome="ok",store="blobs"}`, `storefs_backend_requests_total{op="list",outcome="ok",store="receipt"}`, `storefs_fuse_op_duration_seconds_count{op="read"}`, `storefs_fuse_op_duration_seconds_count{op="lookup"}`} {
		if metric(t, after, series) < 1 {
			t.Errorf("%s did not move", series)
		}
	}
	if strings.Contains(after, s3test.SecretKey) {
		t.Fatal("metrics show the S3 secret")
	}
}

// TestPiriConfigFile mounts through a Piri config TOML with sections
// storefs does not use, for a data dir and for S3.
func TestPiriConfigFile(t *testing.T) {
	const extra = "\n[identity]\nkey_file = \"/etc/piri/key.pem\"\n\n[server]\nport = 3000\nhost = \"0.0.0.0\"\n\n[ucan]\nproof_set = 1\n[ucan.services.indexer]\nproof = \"mAYIEA\"\n"
	srv := s3test.Start(t)
	for name, n := range map[string]*testNode{"datadir": dataDirNode(t), "s3": s3Node(t, srv)} {
		t.Run(name, func(t *testing.T) {
			repo := fmt.Sprintf("[repo]\ndata_dir = %q\n", n.args[1])
			if name == "s3" {
				repo = fmt.Sprintf("[repo]\ndata_dir = \"/nonexistent\"\n[repo.s3]\nendpoint = %q\nbucket_prefix = \"node1-\"\ninsecure = true\n[repo.s3.credentials]\naccess_key_id = %q\nsecret_access_key = %q\n",
					srv.Endpoint, s3test.AccessKey, s3test.SecretKey)
			}
			file := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(file, []byte(repo+extra), 0o600)
			mnt := t.TempDir()
			d := startMount(t, mnt, "--config", file)
			if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
				t.Fatalf("cat: %q", out)
			}
			if strings.Contains(d.log.String(), s3test.SecretKey) {
				t.Fatal("log shows the secret")
			}
		})
	}
}

// TestMountTypeStorefs uses mount(8) with -t fuse.storefs, as an fstab line
// does: mount.fuse3 runs `storefs SOURCE MNT -o OPTS` from the default PATH.
func TestMountTypeStorefs(t *testing.T) {
	needTool(t, "mount.fuse3")
	link := "/usr/local/bin/storefs"
	if target, err := os.Readlink(link); err == nil && strings.HasPrefix(target, os.TempDir()) {
		os.Remove(link) // left by an earlier run of this test
	}
	if _, err := os.Lstat(link); err == nil {
		t.Skip(link + " exists: not replacing an installed storefs")
	}
	if err := os.Symlink(bin, link); err != nil {
		t.Skipf("cannot place storefs on the default PATH: %v", err)
	}
	t.Cleanup(func() { os.Remove(link) })

	n := dataDirNode(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "fuse.storefs", n.args[1], mnt, "-o", "ro").CombinedOutput(); err != nil {
		t.Fatalf("mount -t fuse.storefs: %v: %s", err, out)
	}
	if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
		t.Fatalf("cat: %q", out)
	}
	run(t, "umount", mnt)
	if mounted(mnt) {
		t.Fatal("still mounted")
	}

	// The same through an fstab line (mount -T reads a given fstab file).
	fstab := filepath.Join(t.TempDir(), "fstab")
	os.WriteFile(fstab, []byte(fmt.Sprintf("%s %s fuse.storefs ro,allow_other,nofail,_netdev 0 0\n", n.args[1], mnt)), 0o644)
	if out, err := exec.Command("mount", "-T", fstab, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount from fstab: %v: %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !mounted(mnt) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if out := run(t, "ls", filepath.Join(mnt, "blobs")); !strings.Contains(out, "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i") {
		t.Fatalf("ls via fstab mount: %q", out)
	}
	run(t, "umount", mnt)

	t.Run("every mount setting", func(t *testing.T) { mountEverySetting(t, n.args[1]) })
	t.Run("s3 with a credentials file", func(t *testing.T) { mountS3CredentialsFile(t) })
}

// mountEverySetting mounts a data dir through mount(8) with every mount
// setting in -o, and sees each one take effect where it can be seen.
func mountEverySetting(t *testing.T, dataDir string) {
	mnt := t.TempDir()
	addr := freeAddr(t)
	opts := "ro,allow_other,default_permissions,uid=1234,gid=5678,debug,log_format=json,metrics_addr=" + addr +
		",read_ahead_kb=512,prefetch_budget=64,no_passthrough,entry_timeout=2,attr_timeout=3,negative_timeout=0.5,timeout=5s"
	if out, err := exec.Command("mount", "-t", "fuse.storefs", dataDir, mnt, "-o", opts).CombinedOutput(); err != nil {
		t.Fatalf("mount -o %s: %v: %s", opts, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	blob := filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")
	if out := run(t, "cat", blob); out != "hello world" {
		t.Fatalf("cat: %q", out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(blob, &st); err != nil || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("uid=1234,gid=5678: the blob is owned by %d:%d (%v)", st.Uid, st.Gid, err)
	}
	opts2 := mountOptions(t, mnt)
	for _, want := range []string{"allow_other", "default_permissions"} {
		if !strings.Contains(opts2, want) {
			t.Errorf("%s: /proc/self/mountinfo shows %q", want, opts2)
		}
	}
	if err := syscall.Stat(mnt, &st); err == nil {
		ra, _ := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
		if strings.TrimSpace(string(ra)) != "512" {
			t.Errorf("read_ahead_kb=512: the mount's bdi says %q", ra)
		}
	}
	metrics := scrape(t, addr)
	if !strings.Contains(metrics, `storefs_read_mode{mode="pread"} 1`) {
		t.Errorf("no_passthrough: the read mode is not pread:\n%s", grepLines(metrics, "storefs_read_mode"))
	}
	if got := metric(t, metrics, "storefs_prefetch_budget_bytes"); got != 64<<20 {
		t.Errorf("prefetch_budget=64: the budget is %v bytes", got)
	}
	run(t, "umount", mnt)
}

// mountS3CredentialsFile mounts S3 through mount(8), its credentials in a
// file named in -o, none in the environment.
func mountS3CredentialsFile(t *testing.T) {
	srv := s3test.Start(t)
	s3Node(t, srv)
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s3test.AccessKey, s3test.SecretKey)), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	mnt := t.TempDir()
	src := "s3://node1-@" + srv.Endpoint
	opts := "ro,s3_insecure,s3_region=us-east-1,s3_credentials_file=" + creds
	if out, err := exec.Command("mount", "-t", "fuse.storefs", src, mnt, "-o", opts).CombinedOutput(); err != nil {
		t.Fatalf("mount -t fuse.storefs %s -o %s: %v: %s", src, opts, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
		t.Fatalf("cat: %q", out)
	}
	if strings.Contains(mountOptions(t, mnt), s3test.SecretKey) {
		t.Fatal("the mount table shows the secret")
	}
	run(t, "umount", mnt)
}

// mountOptions is the mount's line in /proc/self/mountinfo.
func mountOptions(t *testing.T, mnt string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == mnt {
			return line
		}
	}
	t.Fatalf("%s is not in /proc/self/mountinfo", mnt)
	return ""
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestS3NodeViews: a node whose stores are on S3 and whose retrieval
// journal is in its data dir, both written as Piri lays them out, named
// by its Piri config: /egress comes from the data dir, /spaces from the
// S3 acceptances (du -slb per space), and storefs check of the same
// config exits 0.
func TestS3NodeViews(t *testing.T) {
	srv := s3test.Start(t)
	w := pirinode.S3(t, srv.Client(), "node-")
	bySpace := w.Clean()
	dataDir := t.TempDir()
	local := pirinode.DataDir(t, dataDir)
	local.Journal(nil)
	local.Close()
	config := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(config, []byte(fmt.Sprintf("[repo]\ndata_dir = %q\n[repo.s3]\nendpoint = %q\nbucket_prefix = \"node-\"\ninsecure = true\n[repo.s3.credentials]\naccess_key_id = %q\nsecret_access_key = %q\n",
		dataDir, srv.Endpoint, s3test.AccessKey, s3test.SecretKey)), 0o600)

	mnt := t.TempDir()
	d := startMount(t, mnt, "--config", config)
	batch := strings.TrimSuffix(strings.TrimPrefix(pirinode.JournalBatch, "egress."), ".car")
	if out := run(t, "ls", filepath.Join(mnt, "egress")); out != batch+".car\n"+batch+".json\nwip.car\nwip.json\n" {
		t.Fatalf("ls egress: %q", out)
	}
	if out := run(t, "cat", filepath.Join(mnt, "egress", "wip.json")); out != "{\n  \"batch\": null,\n  \"receipts\": []\n}\n" {
		t.Fatalf("the empty batch in progress: %q", out)
	}
	for seed, names := range bySpace {
		did, _ := pirinode.SpaceDID(byte(seed))
		var want int64
		for _, n := range names {
			fi, err := os.Stat(filepath.Join(mnt, "blobs", n))
			if err != nil {
				t.Fatal(err)
			}
			want += fi.Size()
		}
		out := run(t, "du", "-slb", filepath.Join(mnt, "spaces", did))
		if f := strings.Fields(out); len(f) == 0 || f[0] != strconv.FormatInt(want, 10) {
			t.Errorf("du -slb spaces/%s: %q, want %d", did, out, want)
		}
	}
	if strings.Contains(d.log.String(), s3test.SecretKey) {
		t.Fatal("the log shows the secret")
	}
	cmd := exec.Command(bin, "check", "--verify", "--config", config)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no problems found") || strings.Contains(string(out), s3test.SecretKey) {
		t.Fatalf("check: %v\n%s", err, out)
	}
}
