package catalog

// HoldWriterForTest takes the writer's lock as another refresh would; the
// returned func lets it go.
func HoldWriterForTest(c *Catalog) func() {
	l, err := c.lockWriter()
	if err != nil {
		panic(err)
	}
	return l.release
}

// WriteForTest opens a write transaction, as a refresh holds one while
// it stores a batch; the returned func commits it.
func WriteForTest(c *Catalog) func() error {
	tx, err := c.db.Begin()
	if err != nil {
		panic(err)
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO meta(key, value) VALUES ('test', '1')`); err != nil {
		panic(err)
	}
	return tx.Commit
}
