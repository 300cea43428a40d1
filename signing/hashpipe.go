package signing

import (
	"hash"
	"io"
	"runtime"
	"sync"
)

// pipeRing is the size of a hashPipe's ring. It must hold more hashing
// than the scheduler takes to put the worker and the owner on different
// Ps: a goroutine made runnable by a running one waits in that P's runnext
// slot until an idle P steals it, and with a smaller ring owner and worker
// take turns on one P, which is slower than hashing inline (the sizes
// measured are in BENCHMARKS.md). It is twice pipeStartMax so that the
// owner goes on filling it while a worker started at pipeStartMax catches
// up. Rings come from a pool; only a large body read in long reads gets
// one (asyncMinBody, asyncMinRead).
const pipeRing = 1 << 20

// pipeStartMax caps how many bytes wait in the ring before a stopped
// worker is started (hashPipe.start): every start costs the worker a
// wake-up and, once it has emptied the ring, a sleep, so starting one per
// 32 KiB read would cost thousands of wake-ups per GiB.
const pipeStartMax = 256 << 10

// pipeStep is the most the worker hashes before it frees ring space.
const pipeStep = 32 << 10

var ringPool = sync.Pool{New: func() any { return new([pipeRing]byte) }}

// pipeSlots bounds the hashPipes alive at once, and so the memory of their
// rings (pipeRing each): hashing on another goroutine pays only while a
// core is idle, and with more large uploads in flight than cores none is,
// so the uploads beyond the bound hash inline. A pipe holds its slot until
// release or, when its reader is dropped half way, until the garbage
// collector finds the pipe unreachable (runtime.AddCleanup).
var pipeSlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// freePipeSlot frees one slot. It never blocks: it also runs as a
// runtime cleanup, and a blocked cleanup would stall every other cleanup
// in the process (a slot freed twice is a bug TestHashPipeSlots catches).
func freePipeSlot(struct{}) {
	select {
	case <-pipeSlots:
	default:
	}
}

// pipeReadMax is the most one fill reads from a body into the ring. The
// caller reads 32 KiB at a time (the HTTP transport's copy buffer);
// longer reads of the client's socket save the hop read syscalls and, over
// loopback, the client a window update and a wake-up per read.
const pipeReadMax = 256 << 10

// hashPipe is the read-ahead buffer of a large body and the hash of what
// was read into it, computed on a goroutine of its own: fill reads the
// body into a ring, take hands the bytes on, and a worker writes them to
// the hash meanwhile, in order, so that a reader copying a body (read
// from the client, write upstream, repeat) does not also spend its time
// hashing, and reads the client in long reads.
//
// The worker goroutine runs only while the ring holds bytes to hash: kick
// starts one once start bytes wait and none is running, and it exits once
// it has hashed everything filled; flush hashes what is left without one.
// It never blocks, so a pipe whose owner drops it half way leaves no
// goroutine behind, and a ring still being read is never returned to the
// pool: only release does that, after flush.
//
// fill, take, kick, flush and release are called by one goroutine at a
// time, the owner; given is the owner's alone.
type hashPipe struct {
	h hash.Hash
	// ring holds, indices mod len: [out, in) for the worker to hash,
	// [given, in) for take to hand on; fill writes the rest.
	ring  []byte
	start int64         // bytes waiting before kick starts a worker; at most len(ring)/2
	wake  chan struct{} // capacity 1: the worker wakes a waiting owner
	given int64         // bytes handed on by take

	mu      sync.Mutex // guards the fields below
	in, out int64      // bytes filled into the ring (by the owner only), bytes hashed
	running bool       // a worker is hashing; it owns h until it stops
	waiting bool       // the owner is parked on wake until in-out <= until or the worker stops
	until   int64

	slot runtime.Cleanup // frees the pipe's slot if release never runs
}

// newHashPipe returns a pipe into h with a ring of size bytes (0 means
// pipeRing, from ringPool; at least 2, so that a ring holding one byte back
// has room to read the next) whose worker starts once start bytes wait (at
// least 1, at most half the ring). It returns nil when pipeSlots are all
// taken: the caller then hashes inline.
func newHashPipe(h hash.Hash, size int, start int64) *hashPipe {
	select {
	case pipeSlots <- struct{}{}:
	default:
		return nil
	}
	p := &hashPipe{h: h, wake: make(chan struct{}, 1)}
	p.slot = runtime.AddCleanup(p, freePipeSlot, struct{}{})
	if size == 0 {
		p.ring = ringPool.Get().(*[pipeRing]byte)[:]
	} else {
		p.ring = make([]byte, max(size, 2))
	}
	p.start = min(max(start, 1), int64(len(p.ring)/2))
	return p
}

// preload puts b in an empty ring as a byte already hashed, to be handed
// on by take.
func (p *hashPipe) preload(b byte) {
	p.ring[0] = b
	p.in, p.out = 1, 1
}

// fill reads once from r into the ring, at most limit bytes (at least 1).
// When the ring has no room for limit bytes and more than half of it waits
// to be hashed, it first waits for the worker to hash down to half: one
// long read and one wake-up per half ring, not a short read per step. The
// bytes handed on by take must be all but at most one of those filled.
func (p *hashPipe) fill(r io.Reader, limit int) (int, error) {
	size := int64(len(p.ring))
	p.mu.Lock()
	if size-(p.in-p.out) < int64(limit) && p.in-p.out > size/2 {
		// More than half the ring, so at least start bytes, wait: a
		// worker is running.
		p.waiting, p.until = true, size/2
		p.mu.Unlock()
		<-p.wake
		p.mu.Lock()
	}
	free := size - (p.in - min(p.out, p.given))
	at := p.in % size
	p.mu.Unlock()
	n, err := r.Read(p.ring[at : at+min(free, size-at, int64(limit))]) // not ring[out:in]: the worker does not read it
	p.mu.Lock()
	p.in += int64(n)
	p.mu.Unlock()
	return n, err
}

// kick starts a worker if none is running and start bytes wait.
func (p *hashPipe) kick() {
	p.mu.Lock()
	start := !p.running && p.in-p.out >= p.start
	if start {
		p.running = true
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// take copies into b the filled bytes from given up to end (at most the
// bytes filled) and returns how many it copied.
func (p *hashPipe) take(b []byte, end int64) int {
	size := int64(len(p.ring))
	n := 0
	for n < len(b) && p.given < end {
		at := p.given % size
		m := copy(b[n:], p.ring[at:at+min(end-p.given, size-at)])
		n += m
		p.given += int64(m)
	}
	return n
}

// work hashes the ring until it is empty.
func (p *hashPipe) work() {
	size := int64(len(p.ring))
	p.mu.Lock()
	for p.in > p.out {
		at := p.out % size
		n := min(p.in-p.out, size-at, pipeStep)
		p.mu.Unlock()

		p.h.Write(p.ring[at : at+n])

		p.mu.Lock()
		p.out += n
		if p.waiting && p.in-p.out <= p.until {
			p.waiting = false
			p.wake <- struct{}{} // never blocks: one token per wait
		}
	}
	p.running = false
	if p.waiting {
		p.waiting = false
		p.wake <- struct{}{}
	}
	p.mu.Unlock()
}

// flush returns once every byte written has been hashed and the worker has
// stopped; h is then the caller's again. Bytes no worker was started for
// are hashed on the caller's goroutine.
func (p *hashPipe) flush() {
	p.mu.Lock()
	if !p.running {
		pending := p.in > p.out
		p.running = pending
		p.mu.Unlock()
		if pending {
			p.work()
		}
		return
	}
	p.waiting, p.until = true, -1 // only the worker stopping satisfies it
	p.mu.Unlock()
	<-p.wake
}

// release returns the ring to its pool and frees the pipe's slot. The pipe
// must be flushed and not used again.
func (p *hashPipe) release() {
	p.slot.Stop()
	freePipeSlot(struct{}{})
	if len(p.ring) == pipeRing {
		ringPool.Put((*[pipeRing]byte)(p.ring))
	}
	p.ring = nil
}
