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
