package fusefs

// SetPlusLimit lowers the READDIRPLUS inode bound for a test.
func (r *Root) SetPlusLimit(n int64) { r.plusLimit = n }

// LiveBlobs is how many blob inodes the kernel holds.
func (r *Root) LiveBlobs() int64 { return r.liveBlobs.Load() }
