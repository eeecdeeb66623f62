package fusefs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/testsupport/pgtest"
	"github.com/storacha/storefs/store/jobqueue"
	reader "github.com/storacha/storefs/store/pdpstate"
)

// The same state in a real PostgreSQL (Piri's schemas scheduler and
// aggregator, as its own code makes them) and in SQLite: /pdp shows the
// same files byte for byte, and check finds the same.
func TestPDPOnPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	n := newPipelineNode(t, pg.URLWithPassword())
	// As an operator would give it: the password from the environment,
	// not in the URL.
	t.Setenv("PGPASSWORD", pg.Password)
	ctx := context.Background()
	pdb, err := reader.OpenPostgres(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if strings.Contains(pdb.File(), pg.Password) {
		t.Fatalf("the state's name shows the password: %s", pdb.File())
	}
	pjobs, err := jobqueue.OpenPostgres(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pjobs.Close()

	onSQLite := tree(t, filepath.Join(n.mount(t), "pdp"))
	onPostgres := tree(t, filepath.Join(n.mountWith(t, pdb, pjobs), "pdp"))
	if len(onSQLite) < 15 {
		t.Fatalf("/pdp has %d entries: %v", len(onSQLite), onSQLite)
	}
	for path, want := range onSQLite {
		if got := onPostgres[path]; got != want {
			t.Errorf("%s on PostgreSQL:\n%s\non SQLite:\n%s", path, got, want)
		}
	}
	for path := range onPostgres {
		if _, ok := onSQLite[path]; !ok {
			t.Errorf("%s only on PostgreSQL", path)
		}
	}

	findings := func(db *reader.DB, q *jobqueue.DB) []string {
		var out []string
		_, err := check.Run(ctx, check.Stores{Blobs: n.stores.Blobs, Stores: n.stores.Stores}, check.Config{PDP: db, JobQueue: q}, func(f check.Finding) {
			out = append(out, fmt.Sprint(f.Name(), " ", f.Blob, " ", f.Key, " ", f.Detail))
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	if a, b := findings(n.db, n.jobs), findings(pdb, pjobs); !slices.Equal(a, b) {
		t.Errorf("check on SQLite:\n  %s\non PostgreSQL:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}

	// A wrong password: a clear error that does not show it.
	t.Setenv("PGPASSWORD", "not-"+pg.Password)
	if _, err := reader.OpenPostgres(ctx, pg.URL); err == nil || strings.Contains(err.Error(), pg.Password) {
		t.Errorf("a wrong password: %v", err)
	}
}

// tree is every entry under dir: a directory's names, a link's target, a
// file's bytes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			out[rel] = "-> " + target
			return err
		case fi.IsDir():
			ents, err := os.ReadDir(path)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			out[rel] = "dir " + strings.Join(names, " ")
			return err
		default:
			data, err := os.ReadFile(path)
			out[rel] = string(data)
			return err
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
