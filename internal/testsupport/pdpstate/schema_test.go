package pdpstate

import (
	"os"
	"testing"
)

// schema.postgres.sql is the golden schema Piri's code made, as committed.
func TestPostgresSchemaIsTheGolden(t *testing.T) {
	golden, err := os.ReadFile("../../../store/pdpstate/testdata/postgres.sql")
	if err != nil {
		t.Fatal(err)
	}
	if string(golden) != schemaPostgres {
		t.Fatal("schema.postgres.sql differs from store/pdpstate/testdata/postgres.sql: copy it again")
	}
}
