package e2e

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestDuplicateSecurityHeaders: a request that repeats a header deciding
// authentication, authorization or what is signed upstream is refused with
// 400 InvalidArgument before anything reaches upstream. The first case is
// the attack that worked: an empty x-amz-copy-source followed by a real one
// hid the copy from the copy-source access check (Header.Get saw ""), and
// both were forwarded, signed, so a key limited to one bucket copied from
// another. Requests go over a raw socket so the header lines, their order
// and their case are exactly as written.
func TestDuplicateSecurityHeaders(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketOther, "secret/k", []byte("not for the narrow key"))
	rw.put(t, aliasData, "dup/src", []byte("v"))
	sum := md5.Sum([]byte("v"))
	md5v := base64.StdEncoding.EncodeToString(sum[:])
	other := "/" + bucketOther + "/secret/k"
	tests := []struct {
		name string
		// signed: header values set before signing (the signature covers
		// every value); lines: header lines appended after signing, as
		// written on the wire.
		method string
		path   string
		signed http.Header
		lines  []string
		want   string // ArgumentName; "" for net/http's own plain 400
	}{
		{"copy source empty then another bucket", "PUT", "/data/dup/dst",
			http.Header{"X-Amz-Copy-Source": {"", other}}, nil, "X-Amz-Copy-Source"},
		{"copy source in two cases", "PUT", "/data/dup/dst",
			nil, []string{"x-amz-copy-source: /data/dup/src", "X-AMZ-COPY-SOURCE: " + other}, "X-Amz-Copy-Source"},
		{"copy source range", "PUT", "/data/dup/dst?partNumber=1&uploadId=x",
			http.Header{"X-Amz-Copy-Source": {"/data/dup/src"}, "X-Amz-Copy-Source-Range": {"bytes=0-0", "bytes=0-100"}}, nil, "X-Amz-Copy-Source-Range"},
		{"content sha256", "PUT", "/data/dup/dst",
			nil, []string{"X-Amz-Content-Sha256: UNSIGNED-PAYLOAD"}, "X-Amz-Content-Sha256"},
		{"x-amz-date", "GET", "/data/dup/src",
			nil, []string{"X-Amz-Date: 20200101T000000Z"}, "X-Amz-Date"},
		{"date", "GET", "/data/dup/src",
			http.Header{"Date": {"Mon, 01 Jan 2024 00:00:00 GMT", "Tue, 02 Jan 2024 00:00:00 GMT"}}, nil, "Date"},
		{"session token", "GET", "/data/dup/src",
			nil, []string{"x-amz-s3session-token: a", "X-Amz-S3session-Token: b"}, "X-Amz-S3session-Token"},
		{"security token", "GET", "/data/dup/src",
			nil, []string{"X-Amz-Security-Token: a", "x-amz-security-token: b"}, "X-Amz-Security-Token"},
		{"authorization", "GET", "/data/dup/src",
			nil, []string{"authorization: AWS " + rwKey + ":c2lnbmF0dXJl"}, "Authorization"},
		{"content-md5", "PUT", "/data/dup/dst",
			http.Header{"Content-Md5": {md5v, md5v}}, nil, "Content-Md5"},
		{"session mode", "GET", "/data--usw2-az1--x-s3?session",
			http.Header{"X-Amz-Create-Session-Mode": {"ReadOnly", "ReadWrite"}}, nil, "X-Amz-Create-Session-Mode"},
		{"host", "GET", "/data/dup/src",
			nil, []string{"Host: evil.example.com"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			status, hdr, body := rawSignedRequest(t, e, rawRequest{
				method: tt.method, path: tt.path, key: narrowKey, secret: narrowSecret,
				signed: tt.signed, lines: tt.lines,
			})
			if st := e.emu.Stats(); total(st.Requests)+total(st.Rejections)+total(st.CreateSessions) != 0 {
				t.Errorf("the request reached upstream: %+v", st)
			}
			if tt.want == "" { // net/http refuses it before the proxy runs
				if status != http.StatusBadRequest {
					t.Fatalf("got %d %s, want 400", status, body)
				}
				return
			}
			if status != http.StatusBadRequest || s3Code(body) != "InvalidArgument" {
				t.Fatalf("got %d %q, want 400 InvalidArgument: %s", status, s3Code(body), body)
			}
			if hdr.Get("Content-Type") != "application/xml" {
				t.Errorf("Content-Type %q, want application/xml", hdr.Get("Content-Type"))
			}
			if !strings.Contains(string(body), "<ArgumentName>"+tt.want+"</ArgumentName>") {
				t.Errorf("body does not name %s: %s", tt.want, body)
			}
		})
	}
	assertNoSecretsLogged(t, e)
}

// rawRequest is a SigV4-signed request written line by line (see
// rawSignedRequest).
type rawRequest struct {
	method, path, key, secret string
	signed                    http.Header
	lines                     []string
	closeWrite                bool // half-close the connection after the request
}

// rawSignedRequest signs rr (empty body, UNSIGNED-PAYLOAD unless signed
// says otherwise) with the SDK signer, writes it over a fresh TCP
// connection with every header value on its own line plus rr.lines, and
// returns the response.
func rawSignedRequest(t *testing.T, e *env, rr rawRequest) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(rr.method, e.url(rr.path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	for k, vs := range rr.signed {
		req.Header[k] = vs
	}
	creds := aws.Credentials{AccessKeyID: rr.key, SecretAccessKey: rr.secret}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n", rr.method, req.URL.RequestURI(), req.Host)
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	for _, l := range rr.lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	if rr.closeWrite {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, body
}
