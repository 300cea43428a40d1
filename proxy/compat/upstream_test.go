package compat

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCopyResponseDropsHopHeaders: an upstream answer relayed by a handler
// keeps its end-to-end headers and loses every hop-by-hop one
// (signing.IsHopHeader, RFC 9110 §7.6.1), Proxy-Authenticate included.
func TestCopyResponseDropsHopHeaders(t *testing.T) {
	resp := &http.Response{
		StatusCode: http.StatusForbidden,
		Header: http.Header{
			"Content-Type":        {"application/xml"},
			"X-Amz-Request-Id":    {"UP1"},
			"Connection":          {"close"},
			"Keep-Alive":          {"timeout=5"},
			"Proxy-Authenticate":  {"Basic realm=upstream"},
			"Proxy-Authorization": {"Basic Zm9vOmJhcg=="},
			"Te":                  {"trailers"},
			"Trailer":             {"X-Checksum"},
			"Transfer-Encoding":   {"chunked"},
			"Upgrade":             {"h2c"},
			"Content-Length":      {"999"},
		},
		ContentLength: 7,
		Body:          io.NopCloser(strings.NewReader("<Error>")),
	}
	w := httptest.NewRecorder()
	copyResponse(w, resp)
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		if v := w.Header().Values(k); len(v) > 0 {
			t.Errorf("%s relayed: %q", k, v)
		}
	}
	for k, want := range map[string]string{"Content-Type": "application/xml", "X-Amz-Request-Id": "UP1", "Content-Length": "7"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if w.Code != http.StatusForbidden || w.Body.String() != "<Error>" {
		t.Errorf("got %d %q, want 403 <Error>", w.Code, w.Body.String())
	}
}
