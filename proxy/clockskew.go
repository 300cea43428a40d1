package proxy

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/session"
)

// codeClockSkew is S3's refusal of a request signed too far from its own
// clock. Every upstream request is signed by the proxy, so from the
// upstream it always means the proxy's clock is off: a client cannot fix
// it, and an SDK that saw the code would wrongly correct its own offset.
const codeClockSkew = "RequestTimeTooSkewed"

// clockSkewLogEvery spaces the warnings about the proxy's clock: one line
// per period says what is wrong, the metric counts every request.
const clockSkewLogEvery = time.Minute

// errUpstreamClockSkew is returned by modifyResponse for a data request the
// upstream refused with RequestTimeTooSkewed; errorHandler renders it.
var errUpstreamClockSkew = errors.New("proxy: the upstream refused the proxy's clock (RequestTimeTooSkewed)")

// isUpstreamClockSkew reports whether a CreateSession failed because the
// upstream refused the proxy's clock.
func isUpstreamClockSkew(err error) bool {
	var up *session.UpstreamError
	return errors.As(err, &up) && up.Code == codeClockSkew
}

// clockSkewAnswer is the error a client gets instead of an upstream answer
// refusing the proxy's clock (503, naming the proxy's clock, as for a
// CreateSession refused the same way), for forwarded requests
// (modifyResponse) and handlers' calls (Proxy.Upstream) alike; nil for any
// other answer. attempt has marked the call.
func clockSkewAnswer(c *call, resp *http.Response) error {
	if resp.StatusCode != http.StatusForbidden || c.errorCode != codeClockSkew {
		return nil
	}
	e := s3err.ErrUpstreamClockSkew
	return s3err.Wrap(errUpstreamClockSkew, e.Status, e.Code, e.Message)
}

// skewWarnings rate-limits the clock warning to one per clockSkewLogEvery.
// Safe for concurrent use; the zero value is ready.
type skewWarnings struct {
	last atomic.Int64 // unix nanoseconds of the last warning, 0 for none
}

// due reports whether a warning at now is due, and if so records it.
func (s *skewWarnings) due(now time.Time) bool {
	last := s.last.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < clockSkewLogEvery {
		return false
	}
	return s.last.CompareAndSwap(last, now.UnixNano())
}
