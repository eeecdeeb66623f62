package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// SetPlusLimit lowers the READDIRPLUS inode bound for a test.
func (r *Root) SetPlusLimit(n int64) { r.plusLimit = n }

// SetNodesFirst lowers how many names a local listing gives nodes
// before anything is looked up.
func (r *Root) SetNodesFirst(n uint64) { r.nodesFirst = n }

// RememberedSizes is how many listed sizes wait for a LOOKUP.
func (r *Root) RememberedSizes() int {
	r.blobs.sizes.mu.Lock()
	defer r.blobs.sizes.mu.Unlock()
	return len(r.blobs.sizes.m)
}

// KernelPassthrough reports whether the kernel granted passthrough.
func (r *Root) KernelPassthrough() bool { return r.kernelFlags.Load()&fuse.CAP_PASSTHROUGH != 0 }

// SpacesLoaded says whether the /spaces index is in memory.
func (r *Root) SpacesLoaded() bool { return r.spaces.Loaded() != nil }
