package proxy

import "sync/atomic"

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
