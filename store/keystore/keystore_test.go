package keystore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/storacha/storefs/store/keystore"
)

func TestSecretsNeverPrint(t *testing.T) {
	const value = "PRIVATE-KEY-MATERIAL-0123456789"
	ks, err := keystore.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	if err := ks.Put(ctx, "identity", keystore.NewSecret([]byte(value))); err != nil {
		t.Fatal(err)
	}
	s, err := ks.Get(ctx, "identity")
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Reveal()) != value {
		t.Fatal("secret did not round trip")
	}
	js, _ := json.Marshal(map[string]any{"k": s})
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "secret", s)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "secret", s)
	printed := fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s) + string(js) + logged.String()
	if strings.Contains(printed, value) || strings.Contains(printed, fmt.Sprintf("%x", value)) {
		t.Fatalf("a secret printed itself: %s", printed)
	}
}
