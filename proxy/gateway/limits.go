package gateway

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// Defaults of the client limits, for a small box (see docs/operations.md):
// an idle keep-alive connection costs ~10 KiB, a request in flight ~100 KiB
// of buffers and goroutine stacks besides its replay buffer.
const (
	DefaultMaxConnections = 1024
	DefaultMaxInFlight    = 256
)

// Refusing a connection over MaxConnections: at most maxRefusing at once,
// each given refuseTimeout to send its request line and read the answer;
// beyond that, connections are closed unanswered.
const (
	maxRefusing   = 64
	refuseTimeout = 2 * time.Second
)

// writeSlowDown answers over a limit with S3's own throttling error, which
// every S3 client retries with back-off (s3err.Write adds Retry-After to
// every 503).
func writeSlowDown(w http.ResponseWriter, r *http.Request) {
	id := fmt.Sprintf("%016X", rand.Uint64())
	w.Header().Set("X-Amz-Request-Id", id)
	s3err.Write(w, r, s3err.ErrSlowDown, id)
}

// inFlight answers 503 SlowDown at once to a request that would take the
// requests in progress over max, instead of queueing it. The count spans
// every client listener and every handler generation.
type inFlight struct {
	next     http.Handler
	max      int64
	n        *atomic.Int64
	rejected *atomic.Uint64
}

func (l inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
		l.rejected.Add(1)
		writeSlowDown(w, r)
		return
	}
	defer l.n.Add(-1)
	l.next.ServeHTTP(w, r)
}

// connLimit caps the client connections open at once, over every client
// listener. A plain-HTTP connection over the cap is answered 503 SlowDown
// by a small server of its own and closed; an HTTPS one is closed at once
// (answering it would cost a TLS handshake, the work the cap sheds). Safe
// for concurrent use.
type connLimit struct {
	max      int64
	open     atomic.Int64
	refusing atomic.Int64
	rejected atomic.Uint64

	once    sync.Once
	refused chan net.Conn // to the refusing server
	srv     *http.Server
	done    chan struct{} // closed by stop
}

func newConnLimit(max int64, logger *log.Logger) *connLimit {
	l := &connLimit{max: max, refused: make(chan net.Conn), done: make(chan struct{})}
	l.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			writeSlowDown(w, r)
		}),
		ReadHeaderTimeout: refuseTimeout,
		ReadTimeout:       refuseTimeout,
		WriteTimeout:      refuseTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          logger,
	}
	l.srv.SetKeepAlivesEnabled(false)
	return l
}

// wrap returns ln with the cap applied.
func (l *connLimit) wrap(ln net.Listener, tls bool) net.Listener {
	if !tls {
		l.once.Do(func() { go l.srv.Serve(refusedListener{l, ln.Addr()}) })
	}
	return &limitListener{Listener: ln, l: l, tls: tls}
}

// stop closes the refusing server and every connection it holds.
func (l *connLimit) stop() {
	close(l.done)
	l.srv.Close()
}

// refuse hands c to the refusing server, or closes it when too many
// refusals are under way already.
func (l *connLimit) refuse(c net.Conn, tls bool) {
	l.rejected.Add(1)
	if tls || l.refusing.Add(1) > maxRefusing {
		if !tls {
			l.refusing.Add(-1)
		}
		c.Close()
		return
	}
	rc := &trackedConn{Conn: c, release: func() { l.refusing.Add(-1) }}
	select {
	case l.refused <- rc:
	case <-l.done:
		rc.Close()
	}
}

type limitListener struct {
	net.Listener
	l   *connLimit
	tls bool
}

// Accept returns the next connection within the cap; those over it are
// refused on the way.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.l.open.Add(1) <= ll.l.max {
			return &trackedConn{Conn: c, release: func() { ll.l.open.Add(-1) }}, nil
		}
		ll.l.open.Add(-1)
		ll.l.refuse(c, ll.tls)
	}
}

// refusedListener feeds refused connections to the refusing server.
type refusedListener struct {
	l    *connLimit
	addr net.Addr
}

func (rl refusedListener) Accept() (net.Conn, error) {
	select {
	case c := <-rl.l.refused:
		return c, nil
	case <-rl.l.done:
		return nil, net.ErrClosed
	}
}

func (rl refusedListener) Close() error   { return nil }
func (rl refusedListener) Addr() net.Addr { return rl.addr }

// trackedConn calls release once, when it is first closed. It keeps
// CloseWrite, which net/http uses to close a connection gracefully (so a
// client still sending gets the answer rather than a reset).
type trackedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
