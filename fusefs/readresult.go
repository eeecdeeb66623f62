package fusefs

import "github.com/hanwen/go-fuse/v2/fuse"

// readResult is the answer to a READ: bytes in memory that go-fuse
// writes to /dev/fuse with one writev. They may be a read-ahead chunk's
// bytes, handed over in place; release lets the chunk go once written.
//
// It offers go-fuse its slices on purpose: any other ReadResult (even
// fuse.ReadResultData) is first tried through a splice pipe, which for
// bytes in memory writes the header into the pipe, gives up and drains
// it again: three wasted syscalls per read.
type readResult struct {
	data    []byte
	release func() // nil when nothing is held
}

// go-fuse's (unexported) interface for results written as they are.
var _ interface {
	Slices() ([][]byte, fuse.Status)
} = readResult{}

func (r readResult) Slices() ([][]byte, fuse.Status)    { return [][]byte{r.data}, fuse.OK }
func (r readResult) Bytes([]byte) ([]byte, fuse.Status) { return r.data, fuse.OK }
func (r readResult) Size() int                          { return len(r.data) }

func (r readResult) Done() {
	if r.release != nil {
		r.release()
	}
}
