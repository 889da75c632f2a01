package fsstore

import "sync"

// maxIdleAIOContexts is how many AIO contexts aioContexts keeps between
// uploads: as many as uploads to stores without fsync that usually run at
// once; a burst beyond it ends its extra contexts in the background.
const maxIdleAIOContexts = 16

// aioContexts keeps the AIO contexts of finished uploads for the next
// ones. Ending a context (io_destroy) waits for the kernel's RCU grace
// period, 32 ms on average on the 2-core VM of bench/compare.sh, which
// every upload's answer waited for too; making one costs 60 µs. A context
// whose writes have all been reaped is as good as a new one.
var aioContexts = aioContextPool{max: maxIdleAIOContexts}

// aioContextPool is a bounded stack of idle AIO contexts, all made for
// asyncDirectWrites writes in flight.
type aioContextPool struct {
	mu   sync.Mutex
	idle []aioContext
	max  int
}

// get returns an idle context, or a new one.
func (p *aioContextPool) get() (aioContext, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		ctx := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return ctx, nil
	}
	p.mu.Unlock()
	return newAIOContext(asyncDirectWrites)
}

// put keeps ctx for a later get, or ends it in the background when
// enough are kept. ctx must have no write in flight and no event left to
// reap: a context whose events were lost is destroyed by its user.
func (p *aioContextPool) put(ctx aioContext) {
	p.mu.Lock()
	if len(p.idle) < p.max {
		p.idle = append(p.idle, ctx)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	go ctx.destroy()
}
