package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNoImplicitSuccess: whatever a Handler does, the client never reads a
// success the handler did not write. net/http answers 200 for a handler
// that returns without writing; the proxy must answer an S3 error instead,
// and a handler that fails after starting its response must cut it.
func TestNoImplicitSuccess(t *testing.T) {
	tests := []struct {
		name    string
		handler Handler
		status  int    // 0: the connection must be cut
		code    string // S3 error code when status != 0
	}{
		{"returns nil without writing", func(http.ResponseWriter, *Request) error { return nil }, 500, "InternalError"},
		{"returns an error without writing", func(http.ResponseWriter, *Request) error {
			return errors.New("boom")
		}, 500, "InternalError"},
		{"fails after starting a 200", func(w http.ResponseWriter, _ *Request) error {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<partial")
			return errors.New("upstream page failed")
		}, 0, ""},
		{"fails after starting a chunked 200", func(w http.ResponseWriter, _ *Request) error {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<partial")
			http.NewResponseController(w).Flush()
			return errors.New("upstream page failed")
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newTestProxy(t, &fakeUpstream{}, func(o *Options) {
				o.Handlers = map[string]Handler{"GetBucketLocation": tt.handler}
			})
			req := sign(t, newReq(t, "GET", srv.URL+"/data?location", nil), nil)
			resp, err := http.DefaultClient.Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if tt.status == 0 {
				if err == nil {
					t.Fatalf("got a complete %d response %q, want the connection cut", resp.StatusCode, body)
				}
				return
			}
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(string(body), "<Code>"+tt.code+"</Code>") {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}
