package prefetch

// Refs is how many references readers hold on blob's chunks.
func (p *Pool) Refs(blob string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, c := range p.chunks {
		if k.blob == blob {
			n += c.refs
		}
	}
	return n
}

// InUse is the memory held by chunks.
func (p *Pool) InUse() int64 { return p.used.Load() }
