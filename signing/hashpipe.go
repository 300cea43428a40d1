package signing

import (
	"hash"
	"runtime"
	"sync"
)

// pipeRing is the size of a hashPipe's ring: 1 MiB, ~750 µs of SHA-256
// at 1.4 GB/s (SHA-NI). The ring must hold more hashing than the scheduler
// takes to put the worker and the writer on different Ps. A goroutine made
// runnable by a running one goes to that P's runnext slot, which an
// idle P steals only after usleep(3) — ~80 µs with Linux's default 50 µs
// timer slack on the 2-vCPU VM we measured on — and waking an idle vCPU
// costs as much again. With one 32 KiB buffer (22 µs of SHA-256) writer
// and worker ran in turn on one P, 15-25% slower than hashing inline. A
// 256 KiB ring gained 7-25%; 512 KiB 15% on a client → proxy → upstream
// PUT over loopback and 25-60% in BenchmarkCheckReaderLoopback. The ring
// is twice pipeStartMax so that the writer goes on filling it while a
// worker started at pipeStartMax catches up. Rings come from a pool; only
// a large body read in long reads gets one (asyncMinBody, asyncMinRead).
const pipeRing = 1 << 20

// pipeStartMax caps how many bytes wait in the ring before a stopped
// worker is started (hashPipe.start). Every start costs the worker's
// goroutine a wake-up and, once it has emptied the ring, a sleep: with a
// worker started on every write, a 1 GiB upload started ~6,000 workers,
// and starting them only once 256 KiB waited saved the hop ~0.1 s of CPU
// per GiB on a machine whose cores client, proxy and upstream kept busy
// (BENCHMARKS.md, finding 1).
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

// hashPipe writes bytes to a hash on a goroutine of its own, in order,
// through a ring buffer, so that a reader copying a body (read from the
// client, write upstream, repeat) does not also spend its time hashing.
//
// The worker goroutine runs only while the ring holds bytes: write starts
// one once start bytes wait and none is running, and it exits once it has
// emptied the ring; flush hashes what is left without one. It never
// blocks, so a pipe whose owner drops it half way leaves no
// goroutine behind, and a ring still being read is never returned to the
// pool: only release does that, after flush.
//
// write, flush and release are called by one goroutine at a time.
type hashPipe struct {
	h     hash.Hash
	ring  []byte        // the worker hashes [out, in), write fills the rest (indices mod len)
	start int64         // bytes waiting before write starts a worker; at most len(ring)/2
	wake  chan struct{} // capacity 1: the worker wakes a waiting writer

	mu      sync.Mutex // guards the fields below
	in, out int64      // bytes written into the ring, bytes hashed
	running bool       // a worker is hashing; it owns h until it stops
	waiting bool       // the writer is parked on wake until in-out <= until or the worker stops
	until   int64

	slot runtime.Cleanup // frees the pipe's slot if release never runs
}

// newHashPipe returns a pipe into h with a ring of size bytes (0 means
// pipeRing, from ringPool) whose worker starts once start bytes wait (at
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
		p.ring = make([]byte, size)
	}
	p.start = min(max(start, 1), int64(len(p.ring)/2))
	return p
}

// write copies b into the ring, waiting for room as needed, for the worker
// to hash after the bytes written before. b is not retained.
func (p *hashPipe) write(b []byte) {
	size := int64(len(p.ring))
	for len(b) > 0 {
		p.mu.Lock()
		free := size - (p.in - p.out)
		if free == 0 {
			// Wait until the ring is half empty rather than for the next
			// free byte: one wake-up per half ring, not per step.
			p.waiting, p.until = true, size/2
			p.mu.Unlock()
			<-p.wake
			continue
		}
		at := p.in % size
		n := min(int64(len(b)), free, size-at)
		p.mu.Unlock()

		copy(p.ring[at:at+n], b) // not ring[out:in]: the worker does not read it
		b = b[n:]

		p.mu.Lock()
		p.in += n
		// A full ring holds at least start bytes, so a writer never
		// waits for room without a worker running.
		start := !p.running && p.in-p.out >= p.start
		if start {
			p.running = true
		}
		p.mu.Unlock()
		if start {
			go p.work()
		}
	}
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
