package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// accessLines parses the JSON access-log lines of the captured output.
func accessLines(t *testing.T, e *env) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["message"] == "access" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: one line per request with the documented fields.
func TestAccessLog(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "log/k", []byte("12345"))
	rw.get(t, aliasData, "log/k")
	do(t, signedRequest(t, "GET", e.url("/"+aliasData+"/log/k"), rwKey, "wrong", nil, time.Now(), nil))
	rw.do(t, "GET", aliasData, "log/missing", "", nil, nil)

	lines := accessLines(t, e)
	if len(lines) != 4 {
		t.Fatalf("%d access lines for 4 requests:\n%s", len(lines), e.logs.String())
	}
	want := []map[string]any{
		{"identity": rwKey, "auth": "sigv4", "bucket": bucketData, "operation": "PutObject", "status": 200.0,
			"bytes_in": 5.0, "session": "miss", "retried": false, "error_code": ""},
		{"identity": rwKey, "bucket": bucketData, "operation": "GetObject", "status": 200.0, "bytes_out": 5.0, "session": "hit"},
		{"status": 403.0, "error_code": "SignatureDoesNotMatch", "session": ""},
		{"status": 404.0, "error_code": "NoSuchKey", "operation": "GetObject", "session": "hit"},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (line %v)", i, k, lines[i][k], v, lines[i])
			}
		}
		for _, k := range []string{"request_id", "total_ms", "upstream_ms", "level"} {
			if _, ok := lines[i][k]; !ok {
				t.Errorf("line %d lacks %s", i, k)
			}
		}
	}
	if lines[2]["upstream_ms"] != 0.0 {
		t.Errorf("refused request has upstream latency %v", lines[2]["upstream_ms"])
	}
	assertNoSecretsLogged(t, e)
}

// TestClientGoneNotAnError: a client that disconnects mid-request is
// logged, but never at error level.
func TestClientGoneNotAnError(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "gone/k", []byte("v"))
	e.emu.SetFaults(emulatorLatency(2 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := signedRequest(t, "GET", e.url("/"+aliasData+"/gone/k"), rwKey, rwSecret, nil, time.Now(), nil)
	if _, err := http.DefaultClient.Do(req.WithContext(ctx)); err == nil {
		t.Fatal("request succeeded despite the client timeout")
	}
	waitFor(t, "the access line of the abandoned request", func() bool { return len(accessLines(t, e)) == 2 })
	if strings.Contains(e.logs.String(), `"level":"error"`) {
		t.Fatalf("a client that went away was logged at error level:\n%s", e.logs.String())
	}
	if got := accessLines(t, e)[1]["status"]; got != 499.0 {
		t.Fatalf("recorded status %v, want 499", got)
	}
}

// TestReadOnlyIdentitySession: a read-only key gets a ReadOnly session.
func TestReadOnlyIdentitySession(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	ro := &rawClient{endpoint: e.srv.URL, key: roKey, secret: roSecret}
	rw.put(t, aliasData, "ro/k", []byte("v"))
	if got := ro.get(t, aliasData, "ro/k"); string(got) != "v" {
		t.Fatalf("read-only GET: %q", got)
	}
	ro.list(t, aliasData, "ro/")
	st := e.emu.Stats()
	if st.CreateSessions[bucketData+"/ReadOnly"] != 1 || st.CreateSessions[bucketData+"/ReadWrite"] != 1 {
		t.Fatalf("CreateSessions %v, want one ReadWrite and one ReadOnly", st.CreateSessions)
	}
}

// TestAnonymousAlias: anonymous access granted on one alias only, read only.
func TestAnonymousAlias(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Aliases = append(o.Aliases, proxy.Alias{Name: "public", Target: bucketOther, Anonymous: proxy.AccessRead, AnonymousSet: true})
	}})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, "public", "pub/k", []byte("public data"))
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"read the public alias", "GET", "/public/pub/k", 200},
		{"write the public alias", "PUT", "/public/pub/k", 403},
		{"real name is not public", "GET", "/" + bucketOther + "/pub/k", 403},
		{"other alias is not public", "GET", "/" + aliasData + "/k", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url(tt.path), bytes.NewReader([]byte("x")))
			status, body, _ := do(t, req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status == 200 && string(body) != "public data" {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// TestVirtualHostAddressing: <bucket>.<domain> with a port reaches the
// bucket, and keys stay byte-exact.
func TestVirtualHostAddressing(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.VirtualHostDomains = []string{"s3.test"} }})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "vh/a b+c", []byte("vhost"))
	port := e.srv.Listener.Addr().String()[strings.LastIndex(e.srv.Listener.Addr().String(), ":"):]
	for _, host := range []string{aliasData + ".s3.test" + port, bucketData + ".s3.test"} {
		t.Run(host, func(t *testing.T) {
			r, _ := http.NewRequest("GET", e.url("/vh/a%20b%2Bc"), nil)
			r.Host = host
			status, body, _ := do(t, signedRequestFrom(t, r, rwKey, rwSecret, nil, time.Now()))
			if status != 200 || string(body) != "vhost" {
				t.Fatalf("got %d %q", status, body)
			}
		})
	}
}

func emulatorLatency(d time.Duration) emulator.Faults { return emulator.Faults{Latency: d} }
