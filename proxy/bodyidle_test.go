package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// fakeDeadliner records the deadlines set on it.
type fakeDeadliner struct {
	set []time.Time
	err error
}

func (f *fakeDeadliner) SetReadDeadline(t time.Time) error {
	if f.err != nil {
		return f.err
	}
	f.set = append(f.set, t)
	return nil
}

// scriptReader returns its results in order, one per Read.
type scriptReader struct{ results []error }

func (s *scriptReader) Read(p []byte) (int, error) {
	err := s.results[0]
	s.results = s.results[1:]
	if err != nil {
		return 0, err
	}
	return copy(p, "x"), nil
}

func (s *scriptReader) Close() error { return nil }

func TestIdleBodyDeadlines(t *testing.T) {
	const T = 8 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deadlineErr := fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
	tests := []struct {
		name    string
		timeout time.Duration
		ctlErr  error
		reads   []time.Duration // clock offset of each read
		results []error         // what src returns at each read
		// wantSet are the deadlines set, as offsets from t0 (-1: cleared).
		wantSet  []time.Duration
		wantCode string // S3 code of the last read's error, "" if none or not an *s3err.Error
		timedOut bool
	}{
		{
			name: "moved only after timeout/8, always at least timeout ahead", timeout: T,
			reads:   []time.Duration{0, T / 16, T / 8, T/8 + T/16, T / 4},
			results: []error{nil, nil, nil, nil, nil},
			wantSet: []time.Duration{T + T/8, T/8 + T + T/8, T/4 + T + T/8},
		},
		{
			name: "cleared at the end of the body", timeout: T,
			reads:   []time.Duration{0, T},
			results: []error{nil, io.EOF},
			wantSet: []time.Duration{T + T/8, T + T + T/8, -1},
		},
		{
			name: "a read cut by the deadline is RequestTimeout", timeout: T,
			reads:   []time.Duration{0, T / 2},
			results: []error{nil, deadlineErr},
			wantSet: []time.Duration{T + T/8, T/2 + T + T/8}, wantCode: "RequestTimeout", timedOut: true,
		},
		{
			name: "other errors pass unchanged", timeout: T,
			reads:   []time.Duration{0},
			results: []error{io.ErrUnexpectedEOF},
			wantSet: []time.Duration{T + T/8},
		},
		{
			name: "no deadline support: no timeout", timeout: T, ctlErr: http.ErrNotSupported,
			reads:   []time.Duration{0, T * 10},
			results: []error{nil, deadlineErr},
		},
		{
			name: "disabled", timeout: 0,
			reads:   []time.Duration{0, T * 10},
			results: []error{nil, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			ctl := &fakeDeadliner{err: tt.ctlErr}
			var b idleBody
			b.init(&scriptReader{results: tt.results}, ctl, tt.timeout, func() time.Time { return now })
			var err error
			for _, at := range tt.reads {
				now = t0.Add(at)
				_, err = b.Read(make([]byte, 8))
			}
			var got []time.Duration
			for _, d := range ctl.set {
				if d.IsZero() {
					got = append(got, -1)
					continue
				}
				got = append(got, d.Sub(t0))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantSet) {
				t.Errorf("deadlines set %v, want %v", got, tt.wantSet)
			}
			var e *s3err.Error
			code := ""
			if errors.As(err, &e) {
				code = e.Code
			}
			if code != tt.wantCode {
				t.Errorf("last error %v (code %q), want code %q", err, code, tt.wantCode)
			}
			if tt.wantCode != "" && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("error %v lost its cause", err)
			}
			if b.timedOut() != tt.timedOut {
				t.Errorf("timedOut = %v, want %v", b.timedOut(), tt.timedOut)
			}
		})
	}
}

// TestBodyIdleTimeout drives real sockets: an upload that stalls gets 400
// RequestTimeout and its upstream request is aborted; an upload that is
// slow but never idle for the timeout succeeds; and an upload whose
// upstream answers long after the body ended is not cut (the deadline is
// cleared at the end of the body).
func TestBodyIdleTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	var aborted, completed atomic.Int64
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "session" || r.URL.RawQuery == "session=" {
			(&fakeUpstream{}).ServeHTTP(w, r)
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			aborted.Add(1)
			return
		}
		if r.Header.Get("X-Test-Slow-Answer") != "" {
			time.Sleep(3 * timeout)
		}
		completed.Add(1)
	})
	_, srv := newTestProxy(t, up, func(o *Options) { o.BodyIdleTimeout = timeout })
	tests := []struct {
		name   string
		header string        // extra header line
		chunks int           // bytes sent, one per gap
		gap    time.Duration // pause before each byte
		stall  bool          // stop one byte short
		status int
		code   string
	}{
		{"stalled", "", 3, 0, true, 400, "RequestTimeout"},
		{"slow but never idle", "", 6, timeout / 3, false, 200, ""},
		{"answer after the body ended", "X-Test-Slow-Answer: 1\r\n", 3, 0, false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := completed.Load()
			status, body, took := rawUpload(t, srv.URL, tt.header, tt.chunks, tt.gap, tt.stall)
			if status != tt.status || !strings.Contains(body, tt.code) {
				t.Fatalf("status %d body %q, want %d %s", status, body, tt.status, tt.code)
			}
			if tt.stall && (took < timeout || took > 4*timeout) {
				t.Errorf("answered after %v, want between %v and %v", took, timeout, 4*timeout)
			}
			if tt.stall {
				waitFor(t, func() bool { return aborted.Load() > 0 }, "the upstream request to be aborted")
				if completed.Load() != before {
					t.Fatal("the upstream completed a stalled upload")
				}
			}
		})
	}
}

// rawUpload sends a signed PUT declaring chunks+1 bytes (UNSIGNED-PAYLOAD)
// over a raw connection, one byte per gap; with stall it stops one byte
// short, otherwise it sends the last byte too. It returns the status, body
// and time from the last byte sent to the answer.
func rawUpload(t *testing.T, base, header string, chunks int, gap time.Duration, stall bool) (int, string, time.Duration) {
	t.Helper()
	u, _ := url.Parse(base)
	req := newReq(t, "PUT", base+"/data/idle", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.ContentLength = int64(chunks + 1)
	signUnsigned(t, req)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "PUT /data/idle HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s", u.Host, chunks+1, header)
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		fmt.Fprintf(&head, "%s: %s\r\n", k, req.Header.Get(k))
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	for range chunks {
		time.Sleep(gap)
		conn.Write([]byte("x"))
	}
	if !stall {
		conn.Write([]byte("x"))
	}
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// signUnsigned signs req with the test key over UNSIGNED-PAYLOAD.
func signUnsigned(t *testing.T, req *http.Request) {
	t.Helper()
	const hash = "UNSIGNED-PAYLOAD"
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		req, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkIdleBodyRead is the idle timeout's cost per read on the upload
// path (the transport reads 32 KiB at a time; a 1 GiB upload is 32768
// reads): reads from a source that copies nothing, through idleBody and
// without it.
func BenchmarkIdleBodyRead(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("idle=%v", wrapped), func(b *testing.B) {
			var r io.ReadCloser = io.NopCloser(freeReader{})
			if wrapped {
				ib := new(idleBody)
				ib.init(r, &fakeDeadliner{}, 30*time.Second, time.Now)
				r = ib
			}
			buf := make([]byte, 32<<10)
			for b.Loop() {
				r.Read(buf)
			}
		})
	}
}

// freeReader fills nothing and reports p read.
type freeReader struct{}

func (freeReader) Read(p []byte) (int, error) { return len(p), nil }

// TestBodyIdleTimeoutHTTP2: over HTTP/2 the deadline is the stream's, and
// a stalled upload gets 400 RequestTimeout the same way.
func TestBodyIdleTimeoutHTTP2(t *testing.T) {
	const timeout = 300 * time.Millisecond
	p, _ := newTestProxy(t, &fakeUpstream{}, func(o *Options) { o.BodyIdleTimeout = timeout })
	srv := httptest.NewUnstartedServer(p)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequest("PUT", srv.URL+"/data/idle-h2", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 10
	signUnsigned(t, req)
	go pw.Write([]byte("12345")) // half the body, then nothing
	start := time.Now()
	c := srv.Client()
	c.Timeout = 5 * time.Second // without the idle timeout the upload would wait forever
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>RequestTimeout</Code>") {
		t.Fatalf("HTTP/%d %d %s, want HTTP/2 400 RequestTimeout", resp.ProtoMajor, resp.StatusCode, b)
	}
	if took := time.Since(start); took < timeout || took > 4*timeout {
		t.Errorf("answered after %v, want between %v and %v", took, timeout, 4*timeout)
	}
}
