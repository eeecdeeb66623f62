package jobqueue_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	mh "github.com/multiformats/go-multihash"

	writer "github.com/storacha/storefs/internal/testsupport/jobqueue"
	"github.com/storacha/storefs/store/jobqueue"
)

// golden loads the rows Piri's own queue code wrote into a fresh
// jobqueue.db of dataDir.
func golden(t *testing.T, dataDir string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/jobqueue.json")
	if err != nil {
		t.Fatal(err)
	}
	var tables map[string][]map[string]any
	if err := json.Unmarshal(raw, &tables); err != nil {
		t.Fatal(err)
	}
	w, err := writer.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for table, rows := range tables {
		for _, row := range rows {
			for c, v := range row {
				switch v := v.(type) {
				case map[string]any: // {"hex": …}
					row[c], _ = hex.DecodeString(v["hex"].(string))
				case float64:
					row[c] = int64(v)
				}
			}
			if err := w.Insert(table, row); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
	}
}

// blob is scripts/piri-aggregator's blob i.
func blob(i int) mh.Multihash {
	data := make([]byte, 1000*(i+1))
	rand.NewChaCha8([32]byte{byte(i)}).Read(data)
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	return d
}

func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("../aggregator/testdata/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Pieces     []string `json:"pieces"`
		Aggregates []struct {
			Root string `json:"root"`
		} `json:"aggregates"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	golden(t, dir)
	db, err := jobqueue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type seen struct {
		task, what, err string
		dead            bool
	}
	var got []seen
	err = db.Jobs(context.Background(), func(j jobqueue.Job) bool {
		s := seen{task: j.Task, dead: j.Dead, err: j.Error}
		switch j.Task {
		case jobqueue.Commp:
			d, err := j.Blob()
			if err != nil {
				t.Fatal(err)
			}
			s.what = d.B58String()
		case jobqueue.Aggregate:
			c, err := j.Piece()
			if err != nil {
				t.Fatal(err)
			}
			s.what = c.String()
		case jobqueue.AddRoots:
			cs, err := j.Aggregates()
			if err != nil || len(cs) != 1 {
				t.Fatalf("%v %v", cs, err)
			}
			s.what = cs[0].String()
		}
		if j.At.IsZero() || j.Attempts != 1 || (j.Dead && j.Reason != "permanent_error") {
			t.Errorf("job %+v", j)
		}
		got = append(got, s)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{jobqueue.Commp, blob(0).B58String(), "calculating commp: reading blob: no such blob", true},
		{jobqueue.Commp, blob(1).B58String(), "", false},
		{jobqueue.Aggregate, ex.Pieces[5], "aggregating piece: buffer: leveldb: closed", true},
		{jobqueue.Aggregate, ex.Pieces[6], "", false},
		{jobqueue.AddRoots, ex.Aggregates[0].Root, "adding roots: proof set not found", true},
		{jobqueue.AddRoots, ex.Aggregates[1].Root, "", false},
	}
	key := func(s seen) string { return s.task + s.what }
	slices.SortFunc(got, func(a, b seen) int { return compare(key(a), key(b)) })
	slices.SortFunc(want, func(a, b seen) int { return compare(key(a), key(b)) })
	if !slices.Equal(got, want) {
		t.Errorf("jobs:\n got %v\nwant %v", got, want)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The test writer's bodies are Piri's: the golden rows' bodies come out
// the same from what they hold.
func TestWriterBodies(t *testing.T) {
	raw, err := os.ReadFile("testdata/jobqueue.json")
	if err != nil {
		t.Fatal(err)
	}
	var tables map[string][]struct {
		Body struct{ Hex string } `json:"body"`
	}
	if err := json.Unmarshal(raw, &tables); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	golden(t, dir)
	db, err := jobqueue.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bodies []string
	for _, rows := range tables {
		for _, r := range rows {
			if r.Body.Hex != "" {
				bodies = append(bodies, r.Body.Hex)
			}
		}
	}
	n := 0
	err = db.Jobs(context.Background(), func(j jobqueue.Job) bool {
		var payload []byte
		var err error
		switch j.Task {
		case jobqueue.Commp:
			d, _ := j.Blob()
			payload, err = writer.CommpPayload(d)
		case jobqueue.Aggregate:
			c, _ := j.Piece()
			payload, err = writer.PiecePayload(c)
		case jobqueue.AddRoots:
			cs, _ := j.Aggregates()
			payload, err = writer.AddRootsPayload(cs)
		}
		if err != nil {
			t.Fatal(err)
		}
		if b := hex.EncodeToString(writer.Body(j.Task, payload)); !slices.Contains(bodies, b) {
			t.Errorf("%s: the writer's body %s is in no golden row", j.Task, b)
		}
		n++
		return true
	})
	if err != nil || n != 6 {
		t.Fatalf("%d jobs: %v", n, err)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := jobqueue.Open(t.TempDir()); !errors.Is(err, jobqueue.ErrNone) {
		t.Errorf("no database: %v", err)
	}
	dir := t.TempDir()
	w, err := writer.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.DB().Exec(`DROP TABLE jobqueue_dead`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := jobqueue.Open(dir); !errors.Is(err, jobqueue.ErrNotPiri) {
		t.Errorf("a database without jobqueue_dead: %v", err)
	}
	if err := os.WriteFile(jobqueue.Path(dir), []byte("not a database, not at all, no"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(jobqueue.Path(dir) + "-wal")
	os.Remove(jobqueue.Path(dir) + "-shm")
	if _, err := jobqueue.Open(dir); !errors.Is(err, jobqueue.ErrNotPiri) {
		t.Errorf("not a database: %v", err)
	}
}
