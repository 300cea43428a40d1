package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRetryResignsSavedHeader: the first attempt is signed in place and a
// retry is signed from the saved unsigned header, so both attempts carry
// the same headers but for the signature, its date and the session token,
// with no leftover of the first signature and no Go default User-Agent.
func TestRetryResignsSavedHeader(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   []byte
	}{
		{"GET", "GET", nil},
		{"PUT with metadata", "PUT", []byte("hello")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			_, srv := newTestProxy(t, up, nil)
			if resp, err := http.DefaultClient.Do(sign(t, newReq(t, "GET", srv.URL+"/data/warm", nil), nil)); err != nil || resp.StatusCode != 200 {
				t.Fatalf("warm-up: %v %v", resp, err)
			}
			up.expire("tok-1")
			before := len(up.seen())

			req := newReq(t, tt.method, srv.URL+"/data/obj", tt.body)
			req.Header["User-Agent"] = []string{""} // the client sends none
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("X-Amz-Meta-Color", "blue")
			resp, err := http.DefaultClient.Do(sign(t, req, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, tt.body) {
				t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, got, tt.body)
			}
			reqs := up.seen()[before:]
			if len(reqs) != 2 {
				t.Fatalf("upstream saw %d attempts, want 2", len(reqs))
			}
			first, retry := reqs[0].Header, reqs[1].Header
			if a, b := first.Get("X-Amz-S3session-Token"), retry.Get("X-Amz-S3session-Token"); a != "tok-1" || b != "tok-2" {
				t.Fatalf("tokens %q then %q, want tok-1 then tok-2", a, b)
			}
			signed := func(h http.Header) string {
				_, list, _ := strings.Cut(h.Get("Authorization"), "SignedHeaders=")
				list, _, _ = strings.Cut(list, ",")
				return list
			}
			if signed(first) != signed(retry) {
				t.Errorf("signed headers %q then %q", signed(first), signed(retry))
			}
			for _, h := range []http.Header{first, retry} {
				if len(h.Values("Authorization")) != 1 || !strings.Contains(h.Get("Authorization"), "Credential=SESSKEY") {
					t.Errorf("Authorization %q, want one session signature", h.Values("Authorization"))
				}
				if _, ok := h["User-Agent"]; ok {
					t.Errorf("User-Agent %q sent", h.Values("User-Agent"))
				}
			}
			for k, v := range first {
				switch k {
				case "Authorization", "X-Amz-Date", "X-Amz-S3session-Token":
					continue
				}
				if strings.Join(retry[k], ",") != strings.Join(v, ",") {
					t.Errorf("%s: %q then %q", k, v, retry[k])
				}
			}
			if len(retry) != len(first) {
				t.Errorf("retry has %d headers, first attempt %d:\n%v\n%v", len(retry), len(first), retry, first)
			}
		})
	}
}
