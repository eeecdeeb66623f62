package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storacha/storefs/internal/testsupport/pdpstate"
	"github.com/storacha/storefs/internal/testsupport/pgtest"
	"github.com/storacha/storefs/store/node"
)

// A Piri config naming a PostgreSQL database: pdp status and check read
// the PDP state there, the password from PGPASSWORD, and say nothing of it.
func TestPDPOnPostgresConfig(t *testing.T) {
	pg := pgtest.Start(t)
	w, err := pdpstate.CreatePostgres(pg.URLWithPassword())
	must(t, err)
	data := make([]byte, 5000)
	rand.NewChaCha8([32]byte{7}).Read(data)
	p, err := pdpstate.PieceOf(data)
	must(t, err)
	must(t, w.AddPiece(p))
	must(t, w.AddProofSet(pdpstate.ProofSet{ID: 12, ProvingPeriod: 2880}))
	_, _, err = w.AddRoot(12, 0, []pdpstate.Piece{p})
	must(t, err)
	must(t, w.Close())
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true})
	must(t, err)
	must(t, st.Close()) // the blob is gone: the subroot is at risk
	conf := filepath.Join(t.TempDir(), "piri.toml")
	must(t, os.WriteFile(conf, []byte("[repo]\ndata_dir = \""+dir+"\"\n[repo.database]\ntype = \"postgres\"\n[repo.database.postgres]\nurl = \""+pg.URL+"\"\n"), 0o600))
	t.Setenv("PGPASSWORD", pg.Password)

	out, stderr, code := storefs(t, "pdp", "status", "--config", conf, "--json")
	if code != 0 || !strings.Contains(out, `"proofset":12`) || !strings.Contains(out, `"at_risk_bytes":8192`) {
		t.Fatalf("pdp status: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = storefs(t, "check", "--config", conf)
	if code != 1 || !strings.Contains(out, "proof-at-risk") || strings.Contains(out+stderr, pg.Password) {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Setenv("PGPASSWORD", "wrong")
	_, stderr, code = storefs(t, "pdp", "status", "--config", conf)
	if code == 0 || strings.Contains(stderr, pg.Password) || !strings.Contains(stderr, "postgres") {
		t.Fatalf("a wrong password: exit %d: %s", code, stderr)
	}
}
