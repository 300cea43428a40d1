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
	buf      []byte
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
	b := &replayBody{c: c, src: src, keep: length <= limit, limit: limit}
	if b.keep && length > 0 {
		b.buf = make([]byte, 0, length) // one allocation; grown by append otherwise
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
	if int64(len(b.buf)+len(p)) > b.limit {
		b.overflow, b.buf = true, nil
		return
	}
	b.buf = append(b.buf, p...)
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
	return readCloser{io.MultiReader(bytes.NewReader(b.buf), rest)}, true
}

// readCloser adds a no-op Close (see replayBody.Close).
type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
