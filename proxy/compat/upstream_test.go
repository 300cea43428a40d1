package compat

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCopyResponseCutOnError: an upstream answer whose body fails midway
// must reach the client as a cut connection, not as a complete-looking
// response (without a Content-Length, a clean end of the chunked body
// would pass a truncated 200 off as whole).
func TestCopyResponseCutOnError(t *testing.T) {
	tests := []struct {
		name   string
		length int64
	}{
		{"chunked", -1},
		{"with Content-Length", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				body := io.MultiReader(strings.NewReader("<ListBucketResult>"), errReader{})
				copyResponse(w, &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: tt.length, Body: io.NopCloser(body)})
			}))
			t.Cleanup(srv.Close)
			resp, err := http.Get(srv.URL)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Fatalf("got a complete %d response %q, want the connection cut", resp.StatusCode, b)
				}
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("upstream reset") }
