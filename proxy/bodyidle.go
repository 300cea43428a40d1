package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// DefaultBodyIdleTimeout is above the ~20 s after which S3 itself answers
// an idle upload 400 RequestTimeout, so against S3 its answer normally
// comes first.
const DefaultBodyIdleTimeout = 30 * time.Second

// errRequestTimeout is S3's answer to an upload whose client stopped
// sending (S3 sends it after about 20 s without a byte).
var errRequestTimeout = s3err.New(http.StatusBadRequest, "RequestTimeout",
	"Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.")

// readDeadliner is the part of http.ResponseController an idleBody needs.
type readDeadliner interface {
	SetReadDeadline(deadline time.Time) error
}

// idleBody wraps an inbound request body (innermost, under the payload
// checks) and fails a read that waits more than timeout for the client:
// the read returns errRequestTimeout, the upstream request that was
// streaming the body is aborted, and nothing is committed.
//
// A blocked read is cut by the connection's read deadline, the only way to
// interrupt it. Moving a deadline costs a runtime timer update, too much on
// every 32 KiB of a 1 GiB upload, so the deadline is set timeout+timeout/8
// ahead and moved only once timeout/8 has passed: every read starts with at
// least timeout to go, and a stalled client is cut after timeout to
// 9/8 timeout. Time the proxy spends not reading (upstream back-pressure)
// does not count. At the end of the body the deadline is cleared, so no
// timer outlives the body (net/http's HTTP/1 server clears it too before
// its background read for a client hanging up; an HTTP/2 stream keeps its
// read-deadline timer otherwise).
//
// Reads come from one goroutine at a time (the replay body serializes the
// attempts); timedOut may be called from any goroutine.
type idleBody struct {
	src     io.ReadCloser
	ctl     readDeadliner
	timeout time.Duration
	now     func() time.Time // real time: deadlines are on a real socket

	// Used by the reading goroutine only.
	next time.Time // when the deadline is next moved out
	off  bool      // deadlines unsupported, or the body ended

	deadline atomic.Int64 // armed deadline, unix nanoseconds; 0 none
	reading  atomic.Bool  // a read of src is in progress
	expired  atomic.Bool  // a read failed on the deadline
}

// init arms b over src for timeout (<= 0: never times out).
func (b *idleBody) init(src io.ReadCloser, ctl readDeadliner, timeout time.Duration, now func() time.Time) {
	*b = idleBody{src: src, ctl: ctl, timeout: timeout, now: now, off: timeout <= 0}
}

// Read implements io.Reader.
func (b *idleBody) Read(p []byte) (int, error) {
	if !b.off {
		if now := b.now(); !now.Before(b.next) {
			b.arm(now)
		}
	}
	b.reading.Store(true)
	n, err := b.src.Read(p)
	b.reading.Store(false)
	if err == nil || b.off {
		return n, err
	}
	if err == io.EOF {
		b.disarm()
		return n, err
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.expired.Store(true)
		e := *errRequestTimeout
		e.Err = err
		return n, &e
	}
	return n, err
}

// arm moves the read deadline to now+timeout+timeout/8.
func (b *idleBody) arm(now time.Time) {
	slack := b.timeout / 8
	d := now.Add(b.timeout + slack)
	if err := b.ctl.SetReadDeadline(d); err != nil { // e.g. http.ErrNotSupported
		b.off = true
		return
	}
	b.deadline.Store(d.UnixNano())
	b.next = now.Add(slack)
}

// disarm clears the deadline once the body has ended.
func (b *idleBody) disarm() {
	b.off = true
	if b.deadline.Swap(0) != 0 {
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
}

// Close implements io.Closer.
func (b *idleBody) Close() error { return b.src.Close() }

// timedOut reports whether the body's idle deadline has ended the request:
// a read failed on it, or one is blocked past it (net/http cancels the
// request's context as the deadline fires, possibly before the read has
// returned). An idleBody never initialized never times out.
func (b *idleBody) timedOut() bool {
	if b.src == nil {
		return false
	}
	if b.expired.Load() {
		return true
	}
	d := b.deadline.Load()
	return d != 0 && b.reading.Load() && b.now().UnixNano() >= d
}

// watchBody puts the body idle timeout under r's body, setting deadlines
// through w (the server's own ResponseWriter). A request without a body is
// left alone. The clock is time.Now, not Options.Now: a socket deadline is
// in real time.
func (p *Proxy) watchBody(x *exchange, w http.ResponseWriter, r *http.Request) {
	if p.opts.BodyIdleTimeout <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	x.idle.init(r.Body, http.NewResponseController(w), p.opts.BodyIdleTimeout, time.Now)
	r.Body = &x.idle
}
