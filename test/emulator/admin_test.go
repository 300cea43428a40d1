package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func adminDo(t *testing.T, e *Emulator, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+e.AdminAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func adminStats(t *testing.T, e *Emulator) Stats {
	t.Helper()
	code, b := adminDo(t, e, "GET", "/stats", "")
	var st Stats
	if code != 200 || json.Unmarshal(b, &st) != nil {
		t.Fatalf("GET /stats = %d %s", code, b)
	}
	return st
}

func TestAdminStatsAndExpire(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	rw := createSession(t, e, clock.Now, testBucket, "ReadWrite")
	createSession(t, e, clock.Now, testBucket, "ReadOnly")
	createSession(t, e, clock.Now, otherBkt, "")
	for i := 0; i < 3; i++ {
		rawReq{method: "PUT", path: "/k", body: []byte("v"), creds: rw}.do(t, e, clock.Now)
	}
	rawReq{path: "/missing", creds: rw}.do(t, e, clock.Now)
	rawReq{path: "/k", creds: iam}.do(t, e, clock.Now)
	st := adminStats(t, e)
	want := map[string]map[string]int64{
		"requests":         {"CreateSession": 3, "PutObject": 3, "GetObject": 2},
		"session_requests": {"PutObject": 3, "GetObject": 1},
		"iam_requests":     {"CreateSession": 3, "GetObject": 1},
		"create_sessions":  {testBucket + "/ReadWrite": 1, testBucket + "/ReadOnly": 1, otherBkt + "/ReadWrite": 1},
		"rejections":       {"NoSuchKey": 1, "AccessDenied": 1},
	}
	got := map[string]map[string]int64{"requests": st.Requests, "session_requests": st.SessionRequests, "iam_requests": st.IAMRequests,
		"create_sessions": st.CreateSessions, "rejections": st.Rejections}
	for name, w := range want {
		if !equalCounts(got[name], w) {
			t.Errorf("%s = %v, want %v", name, got[name], w)
		}
	}
	if code, _ := adminDo(t, e, "POST", "/sessions/expire", ""); code != http.StatusNoContent {
		t.Fatalf("POST /sessions/expire = %d", code)
	}
	if res := (rawReq{path: "/k", creds: rw}).do(t, e, clock.Now); res.code != "ExpiredToken" {
		t.Fatalf("after /sessions/expire: %d %s", res.status, res.code)
	}
	if code, _ := adminDo(t, e, "POST", "/stats/reset", ""); code != http.StatusNoContent {
		t.Fatalf("POST /stats/reset = %d", code)
	}
	if st := adminStats(t, e); len(st.Requests)+len(st.Rejections) != 0 {
		t.Fatalf("stats after reset = %+v", st)
	}
	if code, _ := adminDo(t, e, "GET", "/sessions/expire", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /sessions/expire = %d, want 405", code)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func TestAdminFaults(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	t.Run("bad plans rejected", func(t *testing.T) {
		for _, body := range []string{`{"slow_down_probability": 2}`, `{"latency": "soon"}`, `{"unknown": 1}`, `not json`} {
			if code, _ := adminDo(t, e, "POST", "/faults", body); code != 400 {
				t.Errorf("POST /faults %s = %d, want 400", body, code)
			}
		}
	})
	t.Run("fail create session", func(t *testing.T) {
		code, b := adminDo(t, e, "POST", "/faults", `{"fail_create_session": 2, "fail_create_session_status": 503, "fail_create_session_code": "SlowDown"}`)
		if code != 200 {
			t.Fatalf("POST /faults = %d %s", code, b)
		}
		for i := 0; i < 2; i++ {
			if res := (rawReq{query: "session", creds: iam}).do(t, e, clock.Now); res.status != 503 || res.code != "SlowDown" {
				t.Fatalf("CreateSession %d: %d %s, want 503 SlowDown", i, res.status, res.code)
			}
		}
		createSession(t, e, clock.Now, testBucket, "") // third succeeds
		if f := e.Faults(); f.FailCreateSession != 0 {
			t.Errorf("remaining = %d", f.FailCreateSession)
		}
	})
	t.Run("default code", func(t *testing.T) {
		e.SetFaults(Faults{FailCreateSession: 1})
		if res := (rawReq{query: "session", creds: iam}).do(t, e, clock.Now); res.status != 403 || res.code != "AccessDenied" {
			t.Fatalf("CreateSession: %d %s, want 403 AccessDenied", res.status, res.code)
		}
	})
	s := createSession(t, e, clock.Now, testBucket, "")
	t.Run("slow down", func(t *testing.T) {
		adminDo(t, e, "POST", "/faults", `{"slow_down_probability": 1}`)
		if res := (rawReq{query: "list-type=2", creds: s}).do(t, e, clock.Now); res.status != 503 || res.code != "SlowDown" {
			t.Fatalf("with p=1: %d %s", res.status, res.code)
		}
		adminDo(t, e, "POST", "/faults", `{}`)
		if res := (rawReq{query: "list-type=2", creds: s}).do(t, e, clock.Now); res.status != 200 {
			t.Fatalf("after clearing faults: %d %s", res.status, res.code)
		}
	})
	t.Run("latency", func(t *testing.T) {
		adminDo(t, e, "POST", "/faults", `{"latency": "30ms"}`)
		defer e.SetFaults(Faults{})
		if f := e.Faults(); f.Latency != 30*time.Millisecond {
			t.Fatalf("latency = %v", f.Latency)
		}
		// The delay itself is covered without timing assertions by
		// checking the request is still answered correctly.
		if res := (rawReq{query: "list-type=2", creds: s}).do(t, e, clock.Now); res.status != 200 {
			t.Fatalf("with latency: %d %s", res.status, res.code)
		}
	})
	t.Run("reset after bytes", func(t *testing.T) {
		adminDo(t, e, "POST", "/faults", `{"reset_after_bytes": 1000, "reset_count": 1}`)
		req := rawReq{method: "PUT", path: "/reset", body: bytes.Repeat([]byte("x"), 200000), creds: s}.build(t, clock.Now)
		_, err := (&http.Client{Transport: e.Transport()}).Do(req)
		if err == nil {
			t.Fatal("PUT succeeded, want a connection reset")
		}
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.EPIPE) {
			t.Logf("error (accepted): %v", err)
		}
		if res := (rawReq{method: "PUT", path: "/reset", body: []byte("ok"), creds: s}).do(t, e, clock.Now); res.status != 200 {
			t.Fatalf("next PUT: %d %s", res.status, res.code)
		}
		if e.Stats().Rejections["ConnectionReset"] != 1 {
			t.Errorf("rejections = %v", e.Stats().Rejections)
		}
	})
	t.Run("issue 16 plan decodes", func(t *testing.T) {
		code, b := adminDo(t, e, "POST", "/faults", `{"create_session_latency": "5s", "clock_skew": "1h", "response_reset_after_bytes": 10,
			"response_reset_count": 1, "malformed_create_session": 2, "data_slow_down": 3}`)
		defer e.SetFaults(Faults{})
		f := e.Faults()
		if code != 200 || f.CreateSessionLatency != 5*time.Second || f.ClockSkew != time.Hour || f.ResponseResetAfterBytes != 10 ||
			f.ResponseResetCount != 1 || f.MalformedCreateSession != 2 || f.DataSlowDown != 3 {
			t.Fatalf("POST /faults = %d %s; plan %+v", code, b, f)
		}
		for _, bad := range []string{`{"data_slow_down": -1}`, `{"clock_skew": "later"}`, `{"create_session_latency": "-1s"}`} {
			if code, _ := adminDo(t, e, "POST", "/faults", bad); code != 400 {
				t.Errorf("POST /faults %s = %d, want 400", bad, code)
			}
		}
	})
	t.Run("data slow down spares CreateSession", func(t *testing.T) {
		e.SetFaults(Faults{DataSlowDown: 1})
		defer e.SetFaults(Faults{})
		createSession(t, e, clock.Now, testBucket, "")
		if res := (rawReq{query: "list-type=2", creds: s}).do(t, e, clock.Now); res.status != 503 || res.code != "SlowDown" {
			t.Fatalf("data request: %d %s, want 503 SlowDown", res.status, res.code)
		}
		if res := (rawReq{query: "list-type=2", creds: s}).do(t, e, clock.Now); res.status != 200 {
			t.Fatalf("after the one SlowDown: %d %s", res.status, res.code)
		}
	})
}

// TestFailCreateSessionSDK checks the SDK surfaces an injected
// CreateSession failure and recovers once the fault is spent.
func TestFailCreateSessionSDK(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	e.SetFaults(Faults{FailCreateSession: 1})
	ctx := ctxT(t)
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("ListObjectsV2 with failing CreateSession: %v", err)
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("ListObjectsV2 after fault: %v", err)
	}
}

func TestRecoverAnswersInternalError(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	rc := &reqCtx{e: e, w: &respWriter{ResponseWriter: rec}, r: req, id: e.newRequestID()}
	rc.hostID = hostIDFor(rc.id)
	func() {
		defer rc.recoverPanic()
		panic("boom")
	}()
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "<Code>InternalError</Code>") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if e.Stats().Rejections["InternalError"] != 1 {
		t.Fatalf("InternalError not counted: %v", e.Stats().Rejections)
	}
}

// TestTruncatedBody sends fewer bytes than Content-Length.
func TestTruncatedBody(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	s := createSession(t, e, clock.Now, testBucket, "")
	req := rawReq{method: "PUT", path: "/trunc", body: bytes.Repeat([]byte("y"), 100), creds: s, hash: unsignedPayload}.build(t, clock.Now)
	conn, err := net.Dial("tcp", e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr bytes.Buffer
	hdr.WriteString("PUT /trunc HTTP/1.1\r\nHost: " + req.Host + "\r\nContent-Length: 100\r\n")
	_ = req.Header.Write(&hdr)
	hdr.WriteString("\r\n")
	hdr.Write(bytes.Repeat([]byte("y"), 10))
	if _, err := conn.Write(hdr.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400") || !strings.Contains(string(resp), "<Code>IncompleteBody</Code>") {
		t.Fatalf("response %q", resp)
	}
	if res := (rawReq{path: "/trunc", creds: s}).do(t, e, clock.Now); res.status != 404 {
		t.Fatalf("truncated object was stored: %d", res.status)
	}
}
