package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
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

// replayBody wraps the outbound request body. It counts the bytes read,
// records the first read error (a failed payload check is the real cause of
// an aborted upstream request), and keeps the bytes in a buffer bounded by
// the replay limit so the one retry can resend them. It never buffers more
// than the limit: a longer body is simply not replayable once read.
type replayBody struct {
	c     *call
	src   io.Reader
	keep  bool // tee into buf while it fits
	limit int64

	mu       sync.Mutex // guards everything below
	segs     []*[replaySegment]byte
	size     int64 // bytes teed into segs
	n        int64
	eof      bool
	overflow bool
	failed   bool // a read returned an error other than io.EOF
	reading  bool
	detached bool
}

// newReplayBody wraps src (nil when the request has no body). length is
// the declared upstream length, -1 if unknown; a body known to exceed limit
// is not teed at all.
func newReplayBody(src io.ReadCloser, length, limit int64, c *call) *replayBody {
	if src == nil || src == http.NoBody {
		return nil
	}
	return &replayBody{c: c, src: src, keep: length <= limit, limit: limit}
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
		b.putSegments()
		return
	}
	for len(p) > 0 {
		off := int(b.size % replaySegment)
		if off == 0 {
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

// release gives the replay buffer back once no retry can need it. The
// transport may still be reading the body (an early answer); those bytes
// are no longer teed. A nil b is a request without a body.
func (b *replayBody) release() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keep = false
	b.putSegments()
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
