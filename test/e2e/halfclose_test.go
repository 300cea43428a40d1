package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestHalfClosedUploadNeverSucceeds: a client that sends all or part of a
// PUT body and then half-closes its connection (shutdown(SHUT_WR)) must
// never read a 2xx unless the object is stored with exactly the bytes sent.
// A half-closed client can still read, so it should get an S3 error (or a
// connection cut, never an empty 200). Each case runs many times: the old
// code answered an implicit 200 with no ETag in most tries, depending on
// whether the upstream or the client's EOF won the race.
func TestHalfClosedUploadNeverSucceeds(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rounds := 25
	if testing.Short() {
		rounds = 5
	}
	tests := []struct {
		name     string
		declared int64 // Content-Length
		sent     int   // bytes written before the half-close
		hash     string
		// complete: the whole body was sent, so a 2xx is allowed (with the
		// object stored); otherwise any 2xx is a failure.
		complete bool
		expect   bool // send Expect: 100-continue
	}{
		{"half the body", 1000, 500, "UNSIGNED-PAYLOAD", false, false},
		{"10 bytes under 10 GB", 10 << 30, 10, "UNSIGNED-PAYLOAD", false, false},
		{"no body at all", 64, 0, "UNSIGNED-PAYLOAD", false, false},
		{"no body after Expect 100-continue", 64, 0, "UNSIGNED-PAYLOAD", false, true},
		{"half the body, signed payload", 1000, 500, "", false, false},
		{"whole body", 1000, 1000, "UNSIGNED-PAYLOAD", true, false},
		{"whole body, signed payload", 1000, 1000, "", true, false},
		{"whole body after Expect 100-continue", 1000, 1000, "UNSIGNED-PAYLOAD", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ok2xx, errs, cuts int
			for i := range rounds {
				key := fmt.Sprintf("halfclose/%s/%d", strings.NewReplacer(" ", "-", ",", "").Replace(tt.name), i)
				body := payload(int(min(tt.declared, 1000)), byte(i))
				hash := tt.hash
				if hash == "" {
					sum := sha256.Sum256(body)
					hash = hex.EncodeToString(sum[:])
				}
				resp, err := halfClosedPut(t, e, halfClose{key: key, declared: tt.declared, hash: hash, sent: body[:tt.sent], expect: tt.expect})
				switch {
				case err != nil:
					cuts++ // the proxy cut the connection: the client sees a failure
				case resp.status >= 200 && resp.status < 300:
					ok2xx++
					if !tt.complete {
						t.Fatalf("round %d: %d for an incomplete body (ETag %q)", i, resp.status, resp.etag)
					}
					if resp.etag == "" {
						t.Fatalf("round %d: %d without an ETag", i, resp.status)
					}
					if got := rw.get(t, aliasData, key); !bytes.Equal(got, body) {
						t.Fatalf("round %d: %d but the stored object has %d bytes, want the %d sent", i, resp.status, len(got), len(body))
					}
				default:
					errs++
					if code := s3Code(resp.body); code != "IncompleteBody" && code != "ServiceUnavailable" {
						t.Fatalf("round %d: %d %q, want IncompleteBody or ServiceUnavailable: %q", i, resp.status, code, resp.body)
					}
				}
				if !tt.complete {
					if status, _, _ := rw.do(t, "HEAD", aliasData, key, "", nil, nil); status != http.StatusNotFound {
						t.Fatalf("round %d: HEAD of an incomplete upload: %d, want 404", i, status)
					}
				}
			}
			t.Logf("%d rounds: %d 2xx, %d S3 errors, %d cut", rounds, ok2xx, errs, cuts)
		})
	}
}

type rawResponse struct {
	status int
	etag   string
	body   []byte
}

// halfClose is one PUT of halfClosedPut.
type halfClose struct {
	key      string
	declared int64  // Content-Length
	hash     string // x-amz-content-sha256
	sent     []byte // the body bytes written before the half-close
	expect   bool   // Expect: 100-continue (a 100 answer is read past)
}

// halfClosedPut writes a SigV4-signed PUT over a raw TCP connection, then
// hc.sent as the body, half-closes the connection and reads the answer. An
// error means the connection ended without a complete response.
func halfClosedPut(t *testing.T, e *env, hc halfClose) (*rawResponse, error) {
	t.Helper()
	req, err := http.NewRequest("PUT", e.url("/"+aliasData+"/"+hc.key), nil)
	if err != nil {
		t.Fatal(err)
	}
	declared, hash, sent := hc.declared, hc.hash, hc.sent
	req.ContentLength = declared
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: rwKey, SecretAccessKey: rwSecret}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.Host, declared)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	if hc.expect {
		head.WriteString("Expect: 100-continue\r\n")
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(sent); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	for err == nil && resp.StatusCode < 200 { // 100 Continue: the answer follows
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isConnError(err) {
			return nil, err
		}
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err // cut mid-body: the client cannot take it for a success
	}
	return &rawResponse{status: resp.StatusCode, etag: resp.Header.Get("Etag"), body: b}, nil
}

// isConnError reports a network error (reset, closed) on the connection.
func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// TestHalfClosedListing: a handler's upstream call cancelled because the
// client half-closed (an emulated listing here) answers a retryable 503,
// recorded as 499 and not logged as an internal error (it was a 500
// InternalError logged at error level).
func TestHalfClosedListing(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "hc/list-a", []byte("x"))
	e.emu.SetFaults(emulatorLatency(300 * time.Millisecond)) // the client's EOF wins
	status, _, body := rawSignedRequest(t, e, rawRequest{
		method: "GET", path: "/" + aliasData + "?prefix=hc/li&delimiter=/", key: rwKey, secret: rwSecret, closeWrite: true,
	})
	if status != http.StatusServiceUnavailable || s3Code(body) != "ServiceUnavailable" {
		t.Fatalf("got %d %s, want 503 ServiceUnavailable", status, body)
	}
	waitFor(t, "the access line", func() bool { return len(accessLines(t, e)) == 2 })
	if got := accessLines(t, e)[1]["status"]; got != 499.0 {
		t.Errorf("recorded status %v, want 499", got)
	}
	if strings.Contains(e.logs.String(), `"level":"error"`) {
		t.Errorf("a client that half-closed was logged at error level:\n%s", e.logs.String())
	}
}
