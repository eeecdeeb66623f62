package jobqueue

import (
	"os"
	"testing"
)

// schema.sql is the golden schema Piri's code created, as committed.
func TestSchemaIsTheGolden(t *testing.T) {
	golden, err := os.ReadFile("../../../store/jobqueue/testdata/jobqueue.sql")
	if err != nil {
		t.Fatal(err)
	}
	if string(golden) != schema {
		t.Fatal("schema.sql differs from store/jobqueue/testdata/jobqueue.sql: copy it again")
	}
}
