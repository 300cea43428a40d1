package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// errDetached fails reads of a body whose request was abandoned for a
// retry, so a lingering first attempt can never consume bytes meant for
// the second.
var errDetached = errors.New("proxy: request body handed to a retry")

// replaySegment is the unit of replay-buffer memory. Segments come from a
// pool, so teeing a body costs a copy, not an allocation sized to the body
// (which, zeroed and collected per request, cost a third of PUT throughput).
const replaySegment = 64 << 10

var segmentPool = sync.Pool{New: func() any { return new([replaySegment]byte) }}

// replayPolicy is how much of a body may be kept for a retry: at most
// limit bytes per request, and only while the process-wide budget has room
// (nil: no process-wide bound).
type replayPolicy struct {
	limit  int64
	budget *ReplayBudget
}

// acquire takes n bytes of budget, reporting whether it could.
func (p replayPolicy) acquire(n int64) bool { return p.budget == nil || p.budget.TryAcquire(n) }

func (p replayPolicy) release(n int64) {
	if p.budget != nil {
		p.budget.Release(n)
	}
}

// segmentsFor is the replay-buffer memory a body of n bytes takes.
func segmentsFor(n int64) int64 {
	return (n + replaySegment - 1) / replaySegment * replaySegment
}

// replayBody wraps the outbound request body. It counts the bytes read,
// records the first read error (a failed payload check is the real cause of
// an aborted upstream request), and keeps the bytes in a buffer bounded by
// the replay limit so the one retry can resend them. It never buffers more
// than the limit: a longer body is simply not replayable once read.
//
// The buffer's memory is charged to the policy's budget: a body of known
// length reserves all its segments up front, so whether it is replayable is
// settled before a byte is sent and no work is thrown away half way; a body
// of unknown length takes budget segment by segment and stops being
// replayable when it cannot get the next one. The budget is given back
// exactly once, by release.
type replayBody struct {
	c     *call
	src   io.Reader
	keep  bool // tee into buf while it fits
	limit int64
	pol   replayPolicy
	grow  bool // unknown length: budget is taken per segment in tee

	mu       sync.Mutex // guards everything below
	segs     []*[replaySegment]byte
	reserved int64 // budget held (bytes), given back by drop or release
	size     int64 // bytes teed into segs
	n        int64
	eof      bool
	overflow bool
	failed   bool // a read returned an error other than io.EOF
	reading  bool
	detached bool
}

// newReplayBody wraps src (nil when the request has no body). length is
// the declared upstream length, -1 if unknown; a body known to exceed the
// policy's limit, or that cannot reserve its buffer from the budget, is not
// teed at all.
func newReplayBody(src io.ReadCloser, length int64, c *call, pol replayPolicy) *replayBody {
	if src == nil || src == http.NoBody {
		return nil
	}
	b := &replayBody{c: c, src: src, limit: pol.limit, pol: pol}
	switch {
	case length > pol.limit:
	case length >= 0:
		n := segmentsFor(length)
		if b.keep = pol.acquire(n); b.keep {
			b.reserved = n
		}
	default:
		b.keep, b.grow = true, true
	}
	return b
}

// Read implements io.Reader.
func (b *replayBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.detached {
		b.mu.Unlock()
		return 0, errDetached
	}
	b.reading = true
	b.mu.Unlock()

	n, err := b.src.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	if n > 0 {
		b.n += int64(n)
		b.c.bytesIn.Add(int64(n))
		b.tee(p[:n])
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.failed = true
		b.c.setBodyErr(err)
	}
	return n, err
}

// tee appends p to the replay buffer while it fits. b.mu is held.
func (b *replayBody) tee(p []byte) {
	if !b.keep || b.overflow {
		return
	}
	if b.size+int64(len(p)) > b.limit {
		b.overflow = true
		b.drop()
		return
	}
	for len(p) > 0 {
		off := int(b.size % replaySegment)
		if off == 0 {
			if b.grow && !b.pol.acquire(replaySegment) {
				b.overflow = true
				b.drop()
				return
			}
			if b.grow {
				b.reserved += replaySegment
			}
			b.segs = append(b.segs, segmentPool.Get().(*[replaySegment]byte))
		}
		n := copy(b.segs[len(b.segs)-1][off:], p)
		p = p[n:]
		b.size += int64(n)
	}
}

// putSegments returns the replay buffer to the pool. b.mu is held.
func (b *replayBody) putSegments() {
	for _, s := range b.segs {
		segmentPool.Put(s)
	}
	b.segs, b.size = nil, 0
}

// drop returns the replay buffer to the pool and its budget to the
// policy. b.mu is held.
func (b *replayBody) drop() {
	b.putSegments()
	b.pol.release(b.reserved)
	b.reserved = 0
}

// release gives the replay buffer and its budget back once no retry can
// need it; the signing transport calls it exactly when RoundTrip returns
// (later calls do nothing). The transport may still be reading the body
// (an early answer); those bytes are no longer teed. Segments a retry took
// over (buffered) are left to the garbage collector; their budget is
// returned here all the same. A nil b is a request without a body.
func (b *replayBody) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keep = false
	b.drop()
}

// buffered returns a reader over the teed bytes. The segments are not
// returned to the pool afterwards (a retry's transport may read them at any
// time); retries are rare, so the garbage collector takes them. b.mu is held.
func (b *replayBody) buffered() io.Reader {
	readers := make([]io.Reader, 0, len(b.segs))
	left := b.size
	for _, s := range b.segs {
		n := min(left, replaySegment)
		readers = append(readers, bytes.NewReader(s[:n]))
		left -= n
	}
	b.segs = nil
	return io.MultiReader(readers...)
}

// Close does nothing: the inbound body belongs to the server, which closes
// it when the handler returns, and a retry may still need it.
func (b *replayBody) Close() error { return nil }

// detach stops b from being read any further and returns the body a retry
// must send, and whether the request can be replayed at all: a request
// without a body, or one whose bytes read so far are all in the replay
// buffer (never read at all, e.g. the upstream answered before 100
// Continue; read to the end within the limit; or answered early, part way
// through). The retry then sends the buffered prefix followed by the unread
// rest. A read in progress at that moment makes the request unreplayable:
// its bytes would be lost. A nil b is a request without a body.
func (b *replayBody) detach() (io.ReadCloser, bool) {
	if b == nil {
		return nil, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.detached = true
	if b.reading || b.overflow || b.failed || (b.n > 0 && !b.keep) {
		return nil, false
	}
	// rest never tees (keep false), so it holds no budget.
	rest := &replayBody{c: b.c, src: b.src, keep: false, limit: b.limit}
	if b.eof {
		rest = &replayBody{c: b.c, src: eofReader{}, limit: b.limit}
	}
	return readCloser{io.MultiReader(b.buffered(), rest)}, true
}

// readCloser adds a no-op Close (see replayBody.Close).
type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// DefaultReplayBudget is the process-wide replay budget New creates when
// Options.ReplayBudget is nil: eight full default replay buffers.
const DefaultReplayBudget = 64 << 20

// ReplayBudget is a byte budget shared by the replay buffers of every
// request in flight, so that memory held for retries stays bounded however
// many uploads arrive (or stall) at once. A request that cannot get budget
// is still forwarded, streamed without a replay buffer; it can then be
// retried only if its body was not sent yet.
//
// One ReplayBudget is meant to serve the whole process: cmd hands the same
// value to every proxy a config reload builds, so requests still draining on
// an old proxy count against the same limit. The zero value has a limit of
// 0 (every acquisition fails). Safe for concurrent use.
type ReplayBudget struct {
	limit  atomic.Int64
	used   atomic.Int64
	denied atomic.Uint64
}

// NewReplayBudget returns a budget of limit bytes (limit <= 0: none).
func NewReplayBudget(limit int64) *ReplayBudget {
	b := &ReplayBudget{}
	b.SetLimit(limit)
	return b
}

// SetLimit changes the limit. Bytes already acquired stay acquired: a
// lower limit only refuses new acquisitions until enough is released.
func (b *ReplayBudget) SetLimit(limit int64) { b.limit.Store(max(limit, 0)) }

// TryAcquire takes n bytes of budget if they fit under the limit and
// reports whether it did; it never waits. A refusal is counted (Denied).
// Every successful TryAcquire(n) must be paired with one Release(n).
func (b *ReplayBudget) TryAcquire(n int64) bool {
	if n <= 0 {
		return true
	}
	for {
		used := b.used.Load()
		if used+n > b.limit.Load() {
			b.denied.Add(1)
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release returns n bytes taken by TryAcquire. Releasing more than was
// acquired is a bug in the caller and panics, as sync.WaitGroup does.
func (b *ReplayBudget) Release(n int64) {
	if n <= 0 {
		return
	}
	if b.used.Add(-n) < 0 {
		panic("proxy: ReplayBudget released more than acquired")
	}
}

// InUse returns the bytes currently acquired.
func (b *ReplayBudget) InUse() int64 { return b.used.Load() }

// Limit returns the current limit.
func (b *ReplayBudget) Limit() int64 { return b.limit.Load() }

// Denied returns how many acquisitions were refused since b was created.
func (b *ReplayBudget) Denied() uint64 { return b.denied.Load() }
