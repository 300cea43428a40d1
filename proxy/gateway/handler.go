package gateway

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// generation is one handler plus the count of requests running on it. A
// request picks its generation when it starts and keeps it to the end, so a
// swap never changes the handler under a running request.
type generation struct {
	h       http.Handler
	active  atomic.Int64
	retired atomic.Bool
	once    sync.Once
	drained chan struct{} // closed once retired and active reaches 0
}

func newGeneration(h http.Handler) *generation {
	return &generation{h: h, drained: make(chan struct{})}
}

// release ends one request on g.
func (g *generation) release() {
	if g.active.Add(-1) == 0 && g.retired.Load() {
		g.once.Do(func() { close(g.drained) })
	}
}

// retire marks g as replaced; drained closes when its last request ends.
func (g *generation) retire() {
	g.retired.Store(true)
	if g.active.Load() == 0 {
		g.once.Do(func() { close(g.drained) })
	}
}

// swapper is an http.Handler whose target can be replaced atomically.
type swapper struct {
	cur atomic.Pointer[generation]
}

// acquire returns the current generation with one request counted on it.
// The increment-then-check order pairs with retire's store-then-check, so
// a generation seen as not retired cannot drain while this request runs.
func (s *swapper) acquire() *generation {
	for {
		g := s.cur.Load()
		g.active.Add(1)
		if !g.retired.Load() {
			return g
		}
		g.release() // lost a race with swap: use the new generation
	}
}

func (s *swapper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := s.acquire()
	defer g.release()
	g.h.ServeHTTP(w, r)
}

// swap installs h and returns a channel closed once every request that
// started on the previous handler has finished.
func (s *swapper) swap(h http.Handler) <-chan struct{} {
	old := s.cur.Swap(newGeneration(h))
	if old == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	old.retire()
	return old.drained
}
