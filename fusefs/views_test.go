package fusefs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fixtures"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/store/node"
)

// mountDataDir mounts a data dir as storefs mount does, journal included.
func mountDataDir(t *testing.T, dataDir string) string {
	dir, _ := mountDataDirRoot(t, dataDir)
	return dir
}

func mountDataDirRoot(t *testing.T, dataDir string) (string, *fusefs.Root) {
	t.Helper()
	fusetest.Require(t)
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root := newRoot(t, fusefs.Stores{Blobs: st.Blobs, Stores: st.Stores, Journal: st.Journal}, fusefs.Config{Log: testLog(t)})
	return mountRoot(t, root), root
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	for {
		// A signal to this process (Go's preemption among them) while
		// the daemon waits, here for an index build, interrupts the
		// request, and the daemon answers EINTR: retried, as os.Stat does.
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return &st
	}
}

// TestSpaces: /spaces lists what each space accepted, every entry the
// /blobs inode of its blob with a link per space, an accepted blob that
// is not stored left out, and du -l sums each space's bytes.
func TestSpaces(t *testing.T) {
	dataDir := t.TempDir()
	w := pirinode.DataDir(t, dataDir)
	bySpace := w.Clean()
	ghost := []byte("accepted, never stored")
	w.Acceptance(pirinode.Digest(ghost), 2, int64(len(ghost)), 1764000000)
	w.Close()
	dir := mountDataDir(t, dataDir)

	var want []string
	for seed := range bySpace {
		did, _ := pirinode.SpaceDID(byte(seed))
		want = append(want, did)
	}
	slices.Sort(want)
	if got := ls(t, filepath.Join(dir, "spaces")); !slices.Equal(got, want) {
		t.Fatalf("ls /spaces: %v, want %v", got, want)
	}
	links := map[string]int{}
	for _, names := range bySpace {
		for _, n := range names {
			links[n]++
		}
	}
	for seed, names := range bySpace {
		did, _ := pirinode.SpaceDID(byte(seed))
		sd := filepath.Join(dir, "spaces", did)
		names = slices.Sorted(slices.Values(names))
		if got := ls(t, sd); !slices.Equal(got, names) {
			t.Fatalf("ls /spaces/%s: %v, want %v", did, got, names)
		}
		var bytesWant int64
		for _, n := range names {
			viaSpace, viaBlobs := stat(t, filepath.Join(sd, n)), stat(t, filepath.Join(dir, "blobs", n))
			if viaSpace.Ino != viaBlobs.Ino || viaSpace.Nlink != uint64(1+links[n]) || viaBlobs.Nlink != viaSpace.Nlink {
				t.Errorf("%s: ino %d vs /blobs %d, nlink %d/%d, want %d", n, viaSpace.Ino, viaBlobs.Ino, viaSpace.Nlink, viaBlobs.Nlink, 1+links[n])
			}
			a, err := os.ReadFile(filepath.Join(sd, n))
			must(t, err)
			b, err := os.ReadFile(filepath.Join(dir, "blobs", n))
			must(t, err)
			if !bytes.Equal(a, b) || int64(len(a)) != viaSpace.Size {
				t.Errorf("%s reads differently through /spaces", n)
			}
			bytesWant += viaSpace.Size
		}
		out, err := exec.Command("du", "-slb", sd).Output()
		must(t, err)
		if f := strings.Fields(string(out)); len(f) == 0 || f[0] != strconv.FormatInt(bytesWant, 10) {
			t.Errorf("du -slb %s: %q, want %d bytes", did, out, bytesWant)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "spaces", "did:key:zNotASpace")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unknown space: %v", err)
	}
}

// TestSpacesIndexForgotten: the index of /spaces goes once the kernel
// forgets the space directories (a walk's memory comes back), and a
// later use builds it again.
func TestSpacesIndexForgotten(t *testing.T) {
	dataDir := t.TempDir()
	w := pirinode.DataDir(t, dataDir)
	bySpace := w.Clean()
	w.Close()
	dir, root := mountDataDirRoot(t, dataDir)
	seed, names := 0, []string(nil)
	for s, n := range bySpace {
		seed, names = s, n
		break
	}
	did, _ := pirinode.SpaceDID(byte(seed))
	path := filepath.Join(dir, "spaces", did, names[0])
	stat(t, path)
	if !root.SpacesLoaded() {
		t.Fatal("no index after a lookup under /spaces")
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); root.SpacesLoaded(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the index is kept after the kernel forgot /spaces/" + did)
		}
	}
	if st := stat(t, path); st.Nlink < 2 {
		t.Errorf("after a rebuild: nlink %d", st.Nlink)
	}
}

// egressJSON is /egress/<batch>.json.
type egressJSON struct {
	Batch    *string `json:"batch"`
	Receipts []struct {
		Archive, Receipt, Ran string
		OK                    bool `json:"ok"`
	} `json:"receipts"`
}

// TestEgress: the journal's batches, as written by Piri's batch format
// (the fixture was made by go-ucanto code following fsJournal): bytes
// unchanged, decoded receipts; the batch in progress read while it is
// appended to shows whole sections only; a corrupt batch is EIO on its
// .json only.
func TestEgress(t *testing.T) {
	dataDir := t.TempDir()
	w := pirinode.DataDir(t, dataDir)
	corrupt := "egress." + pirinode.Cause("a corrupt batch").String() + ".car"
	batch := fixtures.Read(t, "generated/"+pirinode.JournalBatch)
	w.Journal(map[string][]byte{corrupt: batch[:len(batch)-5]})
	w.Close()
	dir := mountDataDir(t, dataDir)
	eg := filepath.Join(dir, "egress")

	batchCID := strings.TrimSuffix(strings.TrimPrefix(pirinode.JournalBatch, "egress."), ".car")
	corruptCID := strings.TrimSuffix(strings.TrimPrefix(corrupt, "egress."), ".car")
	want := []string{batchCID + ".car", batchCID + ".json", corruptCID + ".car", corruptCID + ".json", "wip.car", "wip.json"}
	slices.Sort(want)
	if got := ls(t, eg); !slices.Equal(got, want) {
		t.Fatalf("ls /egress: %v, want %v", got, want)
	}
	got, err := os.ReadFile(filepath.Join(eg, batchCID+".car"))
	if err != nil || !bytes.Equal(got, batch) {
		t.Fatalf("%s.car: %d bytes, %v", batchCID, len(got), err)
	}
	var doc egressJSON
	data, err := os.ReadFile(filepath.Join(eg, batchCID+".json"))
	must(t, err)
	if st := stat(t, filepath.Join(eg, batchCID+".json")); st.Size != int64(len(data)) {
		t.Errorf("stat says %d bytes, cat gives %d", st.Size, len(data))
	}
	must(t, json.Unmarshal(data, &doc))
	if doc.Batch == nil || *doc.Batch != batchCID || len(doc.Receipts) != len(pirinode.FixtureReceipts) {
		t.Fatalf("%s.json: %s", batchCID, data)
	}
	for _, got := range doc.Receipts {
		i := slices.IndexFunc(pirinode.FixtureReceipts, func(r pirinode.Receipt) bool { return r.CID == got.Receipt })
		if i < 0 || got.Ran != pirinode.FixtureReceipts[i].Ran || !got.OK || !strings.HasPrefix(got.Archive, "bagbaiera") {
			t.Errorf("receipt %+v is none of the fixtures", got)
		}
	}
	// A corrupt batch: its bytes still show; its rendering is EIO.
	if got, err := os.ReadFile(filepath.Join(eg, corruptCID+".car")); err != nil || len(got) != len(batch)-5 {
		t.Errorf("corrupt .car: %d bytes, %v", len(got), err)
	}
	if _, err := os.ReadFile(filepath.Join(eg, corruptCID+".json")); !errors.Is(err, syscall.EIO) {
		t.Errorf("corrupt .json: %v, want EIO", err)
	}

	// Piri appends to the batch in progress while it is read: each open
	// sees whole sections as they were at open.
	wipPath := filepath.Join(dataDir, "egress_tracker", "journal", "egress.car.wip")
	header := 18 // the smelt fixture's empty batch
	bounds := sectionEnds(batch)
	for cut := header; cut <= len(batch); cut += 97 {
		must(t, os.WriteFile(wipPath, batch[:cut], 0o644))
		whole := header
		for _, e := range bounds {
			if e <= cut {
				whole = e
			}
		}
		got, err := os.ReadFile(filepath.Join(eg, "wip.car"))
		if err != nil || !bytes.Equal(got, batch[:whole]) {
			t.Fatalf("wip.car with %d bytes written: read %d, want %d (%v)", cut, len(got), whole, err)
		}
		if st := stat(t, filepath.Join(eg, "wip.car")); st.Size != int64(whole) {
			t.Fatalf("wip.car: stat %d, want %d", st.Size, whole)
		}
		var doc egressJSON
		data, err := os.ReadFile(filepath.Join(eg, "wip.json"))
		must(t, err)
		must(t, json.Unmarshal(data, &doc))
		if n := slices.Index(append([]int{header}, bounds...), whole); doc.Batch != nil || len(doc.Receipts) != n {
			t.Fatalf("wip.json with %d whole bytes: %d receipts, want %d", whole, len(doc.Receipts), n)
		}
	}
	// The old consolidation LevelDB in the journal dir is never shown.
	must(t, os.MkdirAll(filepath.Join(dataDir, "egress_tracker", "journal", "consolidation"), 0o755))
	if got := ls(t, eg); slices.Contains(got, "consolidation") {
		t.Errorf("/egress shows %v", got)
	}
}

// sectionEnds are the offsets where a CARv1's sections end.
func sectionEnds(car []byte) []int {
	var ends []int
	off := 0
	for first := true; off < len(car); first = false {
		n, l := uvarint(car[off:])
		off += l + int(n)
		if !first {
			ends = append(ends, off)
		}
	}
	return ends
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
