package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// sessionCreds are the credentials of one CreateSessionResult.
type sessionCreds struct {
	SessionToken    string
	SecretAccessKey string
	AccessKeyId     string //nolint:revive // S3 element name
	Expiration      string
}

// tapCall is one request a tap carried.
type tapCall struct {
	method, path, query string
	akid, token         string   // signing access key id, x-amz-s3session-token
	contentMD5, sha256  string   // Content-Md5, X-Amz-Content-Sha256
	checksums           []string // x-amz-checksum-* header names
	status              int
}

// tap is a RoundTripper that records who signed each request it carries
// and the credentials of every CreateSession answer. Used on the client
// side (what the SDK sends and receives) and on the upstream side (what
// the emulator sees).
type tap struct {
	next   http.RoundTripper
	mu     sync.Mutex
	calls  []tapCall
	issued []sessionCreds
	bodies [][]byte // every response header and body, for leak checks
}

var credentialRe = regexp.MustCompile(`Credential=([^/]+)/`)

func (tp *tap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tp.next.RoundTrip(r)
	c := tapCall{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, token: r.Header.Get("X-Amz-S3session-Token"),
		contentMD5: r.Header.Get("Content-Md5"), sha256: r.Header.Get("X-Amz-Content-Sha256")}
	for k := range r.Header {
		if strings.HasPrefix(k, "X-Amz-Checksum-") {
			c.checksums = append(c.checksums, k)
		}
	}
	if m := credentialRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.akid = m[1]
	}
	if err != nil {
		tp.record(c, nil, nil)
		return resp, err
	}
	c.status = resp.StatusCode
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if rerr != nil {
		return nil, rerr
	}
	var hdr bytes.Buffer
	_ = resp.Header.Write(&hdr)
	var issued *sessionCreds
	if resp.StatusCode == 200 && strings.Contains(r.URL.RawQuery, "session") {
		var res struct{ Credentials sessionCreds }
		if xml.Unmarshal(b, &res) == nil && res.Credentials.AccessKeyId != "" {
			issued = &res.Credentials
		}
	}
	tp.record(c, issued, append(hdr.Bytes(), b...))
	return resp, nil
}

func (tp *tap) record(c tapCall, issued *sessionCreds, body []byte) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.calls = append(tp.calls, c)
	if issued != nil {
		tp.issued = append(tp.issued, *issued)
	}
	if body != nil {
		tp.bodies = append(tp.bodies, body)
	}
}

func (tp *tap) snapshot() ([]tapCall, []sessionCreds, [][]byte) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.calls), slices.Clone(tp.issued), slices.Clone(tp.bodies)
}

// isCopy reports whether c is the CopyObject of TestSDKNativeS3Express.
func isCopy(c tapCall) bool {
	return c.method == "PUT" && strings.HasSuffix(c.path, "/native/copy.bin")
}

// withUpstreamTap installs tp around the proxy's upstream transport.
func withUpstreamTap(tp *tap) func(*proxy.Options) {
	return func(o *proxy.Options) {
		tp.next = o.Transport
		o.Transport = tp
	}
}

// createLocalSession asks the proxy for a local session on bucket with a
// hand-signed CreateSession (GET /<bucket>?session) and returns the status,
// the error code and the parsed credentials.
func createLocalSession(t *testing.T, e *env, key, secret, bucket, mode string, at time.Time) (int, string, sessionCreds) {
	t.Helper()
	var hdr http.Header
	if mode != "" {
		hdr = http.Header{localsession.HeaderSessionMode: {mode}}
	}
	status, body, _ := do(t, signedRequest(t, "GET", e.url("/"+bucket+"?session"), key, secret, nil, at, hdr))
	if status != 200 {
		return status, s3Code(body), sessionCreds{}
	}
	var res struct{ Credentials sessionCreds }
	if err := xml.Unmarshal(body, &res); err != nil {
		t.Fatalf("CreateSession answer: %v: %s", err, body)
	}
	return status, "", res.Credentials
}

// sessionRequest builds a request signed the way S3 Express SDKs sign with
// a session: service s3express, the session key, and the token in the
// signed x-amz-s3session-token header (omitted when token is "").
func sessionRequest(t *testing.T, method, url string, c sessionCreds, token string, body []byte, at time.Time, hdr ...http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdr {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	if token != "" {
		req.Header.Set("X-Amz-S3session-Token", token)
	}
	setBody(req, body)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3express", region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSDKNativeS3Express: the aws-sdk-go-v2 S3 client in its native S3
// Express mode, pointed at the proxy with a --x-s3 bucket, calls
// CreateSession on the proxy itself, gets a proxy-issued (S3XL...) session
// and uses it for PutObject, GetObject, ListObjectsV2, DeleteObjects and
// DeleteObject (CopyObject the SDK signs with its own key). The emulator
// sees only the proxy's own IAM-signed CreateSession and its own upstream
// session; the upstream session credentials never reach the client.
func TestSDKNativeS3Express(t *testing.T) {
	up := &tap{}
	e := newEnv(t, envConfig{proxy: withUpstreamTap(up)})
	client := &tap{next: http.DefaultTransport}
	sdk := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.srv.URL), // an IP endpoint: the SDK addresses --x-s3 buckets path-style
		Credentials:  awscreds.NewStaticCredentialsProvider(rwKey, rwSecret, ""),
		HTTPClient:   &http.Client{Transport: client},
		// S3 Express session auth stays on (the default).
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	bucket := bucketData
	body := payload(200<<10, 5)
	keys := []string{"native/a.bin", "native/b.bin"}
	for _, k := range keys {
		if _, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	out, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(keys[0])})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GetObject: %d bytes (err %v), want the %d put", len(got), err, len(body))
	}
	lo, err := sdk.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("native/")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var listed []string
	for _, o := range lo.Contents {
		listed = append(listed, aws.ToString(o.Key))
	}
	slices.Sort(listed)
	if !slices.Equal(listed, keys) {
		t.Fatalf("ListObjectsV2: %q, want %q", listed, keys)
	}
	// CopyObject (IAM-signed upstream) and DeleteObjects (checksum shim).
	if _, err := sdk.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("native/copy.bin"),
		CopySource: aws.String(bucket + "/" + keys[0])}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if _, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("native/c.bin"),
		Body: strings.NewReader("c"), ContentLength: aws.Int64(1)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	dout, err := sdk.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{
		Objects: []s3types.ObjectIdentifier{{Key: aws.String("native/copy.bin")}, {Key: aws.String("native/c.bin")}}}})
	if err != nil || len(dout.Deleted) != 2 || len(dout.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v (%d deleted, errors %+v)", err, len(dout.Deleted), dout)
	}
	for _, k := range keys {
		if _, err := sdk.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)}); err != nil {
			t.Fatalf("DeleteObject %s: %v", k, err)
		}
	}
	if lo, err := sdk.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("native/")}); err != nil || len(lo.Contents) != 0 {
		t.Fatalf("after the deletes: %v, %d objects left", err, len(lo.Contents))
	}
	if _, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(keys[0])}); err == nil {
		t.Fatal("HeadObject after DeleteObject succeeded")
	}

	// What the SDK did: one CreateSession, signed with the local key; the
	// session it got is proxy-issued; every data call used it.
	calls, issued, _ := client.snapshot()
	if len(issued) != 1 {
		t.Fatalf("SDK got %d sessions, want 1 (calls %+v)", len(issued), calls)
	}
	local := issued[0]
	if !strings.HasPrefix(local.AccessKeyId, localsession.AccessKeyPrefix) || local.SecretAccessKey == "" || local.SessionToken == "" {
		t.Fatalf("SDK session key %q: want a proxy-issued %s... session", local.AccessKeyId, localsession.AccessKeyPrefix)
	}
	if exp, err := time.Parse(time.RFC3339, local.Expiration); err != nil || time.Until(exp) > 5*time.Minute+time.Second || time.Until(exp) <= 0 {
		t.Errorf("session Expiration %q: want RFC 3339, within the default 5 minutes", local.Expiration)
	}
	var sawCreate bool
	for _, c := range calls {
		if strings.Contains(c.query, "session") {
			sawCreate = true
			if c.path != "/"+bucket || c.akid != rwKey || c.token != "" {
				t.Errorf("CreateSession %s?%s signed by %q (token %v): want path-style, the local key, no token", c.path, c.query, c.akid, c.token != "")
			}
			continue
		}
		if isCopy(c) {
			// The SDK signs CopyObject with its own credentials, never a
			// session (DisableS3ExpressSessionAuth in the S3 model).
			if c.akid != rwKey || c.token != "" {
				t.Errorf("CopyObject signed by %q", c.akid)
			}
			continue
		}
		if c.akid != local.AccessKeyId || c.token != local.SessionToken {
			t.Errorf("%s %s signed by %q: want the local session %q with its token", c.method, c.path, c.akid, local.AccessKeyId)
		}
	}
	if !sawCreate {
		t.Fatal("the SDK never called CreateSession on the proxy: it is not in S3 Express mode")
	}
	sessionOps := 0
	for _, rec := range e.recs.all() {
		if rec.Operation == "CreateSession" {
			if rec.Identity != rwKey || rec.Status != 200 {
				t.Errorf("proxy record CreateSession by %q status %d", rec.Identity, rec.Status)
			}
			continue
		}
		if rec.Identity == local.AccessKeyId {
			sessionOps++
		}
	}
	if sessionOps < 6 {
		t.Errorf("proxy saw %d requests authenticated by the local session, want >= 6", sessionOps)
	}

	// What the emulator saw: one CreateSession, IAM-signed by the proxy.
	st := e.emu.Stats()
	if st.Requests["CreateSession"] != 1 || st.CreateSessions[bucket+"/ReadWrite"] != 1 {
		t.Fatalf("emulator CreateSession: requests %d, sessions %v; want exactly the proxy's one", st.Requests["CreateSession"], st.CreateSessions)
	}
	if n := total(st.Rejections) - st.Rejections["NoSuchKey"]; n != 0 {
		t.Errorf("emulator rejected requests: %v", st.Rejections)
	}
	upCalls, upIssued, _ := up.snapshot()
	if len(upIssued) != 1 {
		t.Fatalf("upstream issued %d sessions, want 1", len(upIssued))
	}
	upstream := upIssued[0]
	for _, c := range upCalls {
		if strings.Contains(c.query, "session") {
			if c.akid != iamKey {
				t.Errorf("upstream CreateSession signed by %q, want the proxy's IAM key", c.akid)
			}
			continue
		}
		if isCopy(c) {
			if c.akid != iamKey || c.token != "" {
				t.Errorf("upstream CopyObject signed by %q, want the proxy's IAM key", c.akid)
			}
			continue
		}
		if c.akid != upstream.AccessKeyId || c.token != upstream.SessionToken {
			t.Errorf("upstream %s %s signed by %q: want the proxy's own upstream session", c.method, c.path, c.akid)
		}
		if strings.HasPrefix(c.akid, localsession.AccessKeyPrefix) || c.token == local.SessionToken {
			t.Errorf("the local session was forwarded upstream on %s %s", c.method, c.path)
		}
	}
	// The upstream session never reaches the client.
	_, _, bodies := client.snapshot()
	for _, b := range bodies {
		for _, s := range []string{upstream.AccessKeyId, upstream.SecretAccessKey, upstream.SessionToken} {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("a client response carries upstream session material (%.4s...)", s)
			}
		}
	}
	assertNoSecretsLogged(t, e)
}

// TestLocalSessionScope: local sessions are bound to their bucket and mode
// and verified; every refusal is the proxy's own (nothing reaches the
// emulator).
func TestLocalSessionScope(t *testing.T) {
	e := newEnv(t, envConfig{})
	now := time.Now()
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "scope/k", []byte("scoped"))

	_, code, rwSess := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", now)
	if code != "" {
		t.Fatalf("CreateSession: %s", code)
	}
	_, code, roSess := createLocalSession(t, e, rwKey, rwSecret, bucketData, "ReadOnly", now)
	if code != "" {
		t.Fatalf("CreateSession ReadOnly: %s", code)
	}
	_, code, roKeySess := createLocalSession(t, e, roKey, roSecret, bucketData, "", now)
	if code != "" {
		t.Fatalf("CreateSession by the read-only key: %s", code)
	}
	objURL := e.url("/" + bucketData + "/scope/k")

	// Positive controls: each session reads its bucket, the RW one writes.
	for name, s := range map[string]sessionCreds{"rw": rwSess, "ro": roSess, "ro-key": roKeySess} {
		status, body, _ := do(t, sessionRequest(t, "GET", objURL, s, s.SessionToken, nil, now))
		if status != 200 || string(body) != "scoped" {
			t.Fatalf("%s session GET: %d %s", name, status, body)
		}
	}
	status, body, _ := do(t, sessionRequest(t, "PUT", e.url("/"+bucketData+"/scope/written"), rwSess, rwSess.SessionToken, []byte("w"), now))
	if status != 200 {
		t.Fatalf("rw session PUT: %d %s", status, body)
	}

	e.emu.ResetStats()
	created := e.recs.all()
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"replayed on another bucket (GET)", sessionRequest(t, "GET", e.url("/"+bucketOther+"/scope/k"), rwSess, rwSess.SessionToken, nil, now), 403, "AccessDenied"},
		{"replayed on another bucket (PUT)", sessionRequest(t, "PUT", e.url("/"+bucketOther+"/scope/x"), rwSess, rwSess.SessionToken, []byte("x"), now), 403, "AccessDenied"},
		{"ReadOnly session writes", sessionRequest(t, "PUT", e.url("/"+bucketData+"/scope/ro"), roSess, roSess.SessionToken, []byte("x"), now), 403, "AccessDenied"},
		{"ReadOnly session deletes", sessionRequest(t, "DELETE", objURL, roSess, roSess.SessionToken, nil, now), 403, "AccessDenied"},
		{"read-only key's session writes", sessionRequest(t, "PUT", e.url("/"+bucketData+"/scope/ro"), roKeySess, roKeySess.SessionToken, []byte("x"), now), 403, "AccessDenied"},
		{"copy into its bucket from another bucket", sessionRequest(t, "PUT", e.url("/"+bucketData+"/scope/x"), rwSess, rwSess.SessionToken, nil, now,
			http.Header{"X-Amz-Copy-Source": {"/" + bucketOther + "/scope/k"}}), 403, "AccessDenied"},
		{"wrong token", sessionRequest(t, "GET", objURL, rwSess, roSess.SessionToken, nil, now), 400, "InvalidToken"},
		{"no token", sessionRequest(t, "GET", objURL, rwSess, "", nil, now), 400, "InvalidToken"},
		{"wrong session secret", sessionRequest(t, "GET", objURL, sessionCreds{AccessKeyId: rwSess.AccessKeyId, SecretAccessKey: roSess.SecretAccessKey}, rwSess.SessionToken, nil, now), 403, "SignatureDoesNotMatch"},
		{"unknown session key", sessionRequest(t, "GET", objURL, sessionCreds{AccessKeyId: "S3XLAAAAAAAAAAAAAAAA", SecretAccessKey: rwSess.SecretAccessKey}, rwSess.SessionToken, nil, now), 403, "InvalidAccessKeyId"},
		{"CreateSession with a session", sessionRequest(t, "GET", e.url("/"+bucketData+"?session"), rwSess, rwSess.SessionToken, nil, now), 400, "InvalidRequest"},
		{"static key with a session token", signedRequest(t, "GET", objURL, rwKey, rwSecret, nil, now,
			http.Header{"X-Amz-S3session-Token": {rwSess.SessionToken}}), 400, "InvalidToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := do(t, tt.req)
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %s: %s", status, s3Code(body), tt.status, tt.code, body)
			}
		})
	}
	t.Run("CreateSession mode", func(t *testing.T) {
		for _, tt := range []struct {
			name, key, secret, mode string
			status                  int
			code                    string
		}{
			{"read-only key asks ReadWrite", roKey, roSecret, "ReadWrite", 403, "AccessDenied"},
			{"unknown mode", rwKey, rwSecret, "Admin", 400, "InvalidArgument"},
			{"narrow key on a bucket it may not use", narrowKey, narrowSecret, "", 403, "AccessDenied"},
		} {
			bucket := bucketData
			if tt.key == narrowKey {
				bucket = bucketOther
			}
			status, code, _ := createLocalSession(t, e, tt.key, tt.secret, bucket, tt.mode, now)
			if status != tt.status || code != tt.code {
				t.Errorf("%s: got %d %q, want %d %s", tt.name, status, code, tt.status, tt.code)
			}
		}
	})
	st := e.emu.Stats()
	if n := total(st.Requests) + total(st.Rejections) + total(st.CreateSessions); n != 0 {
		t.Fatalf("refused local-session requests reached the emulator: %+v", st)
	}
	for _, rec := range e.recs.all()[len(created):] {
		if rec.Upstream != 0 {
			t.Errorf("%s by %s (%d %s) has upstream time: it was forwarded", rec.Operation, rec.Identity, rec.Status, rec.ErrorCode)
		}
	}
	if got := rw.get(t, bucketData, "scope/k"); string(got) != "scoped" {
		t.Fatalf("object changed: %q", got)
	}
	for _, k := range []string{"scope/x", "scope/ro"} {
		for _, b := range []string{bucketData, bucketOther} {
			if st, _, _ := rw.do(t, "HEAD", b, k, "", nil, nil); st != 404 {
				t.Errorf("%s/%s exists after a refused write (HEAD %d)", b, k, st)
			}
		}
	}
	assertNoSecretsLogged(t, e)
}

// TestLocalSessionExpiry: a local session is refused with ExpiredToken
// once its 5 minutes are over (manual clock shared by proxy and emulator).
func TestLocalSessionExpiry(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := newEnv(t, envConfig{emu: emulator.Options{Now: clk.Now}})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "exp/k", []byte("v"))
	_, code, s := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", clk.Now())
	if code != "" {
		t.Fatalf("CreateSession: %s", code)
	}
	objURL := e.url("/" + bucketData + "/exp/k")
	if status, body, _ := do(t, sessionRequest(t, "GET", objURL, s, s.SessionToken, nil, clk.Now())); status != 200 {
		t.Fatalf("fresh session: %d %s", status, body)
	}
	clk.Advance(4*time.Minute + 50*time.Second)
	if status, body, _ := do(t, sessionRequest(t, "GET", objURL, s, s.SessionToken, nil, clk.Now())); status != 200 {
		t.Fatalf("session before its expiry: %d %s", status, body)
	}
	clk.Advance(15 * time.Second)
	e.emu.ResetStats()
	status, body, _ := do(t, sessionRequest(t, "GET", objURL, s, s.SessionToken, nil, clk.Now()))
	if status != 400 || s3Code(body) != "ExpiredToken" {
		t.Fatalf("expired session: %d %s, want 400 ExpiredToken", status, body)
	}
	// (A background refresh of the proxy's own upstream session, started
	// by the request at +4m50s, may land here: only data calls count.)
	if st := e.emu.Stats(); total(st.Requests)-st.Requests["CreateSession"] != 0 {
		t.Fatalf("expired session reached the emulator: %v", st.Requests)
	}
	// A new session works again.
	if _, code, s2 := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", clk.Now()); code != "" {
		t.Fatalf("new CreateSession: %s", code)
	} else if status, body, _ := do(t, sessionRequest(t, "GET", objURL, s2, s2.SessionToken, nil, clk.Now())); status != 200 {
		t.Fatalf("new session: %d %s", status, body)
	}
}

// TestLocalSessionForms: CreateSession addressed virtual-host style
// (GET /?session on <bucket>.<domain>) issues a session too, and a session
// request may carry its token in the X-Amz-S3session-Token query parameter
// of a presigned URL.
func TestLocalSessionForms(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.VirtualHostDomains = []string{"s3.test"} }})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "forms/k", []byte("forms"))
	now := time.Now()

	r, _ := http.NewRequest("GET", e.url("/?session"), nil)
	r.Host = bucketData + ".s3.test"
	status, body, _ := do(t, signedRequestFrom(t, r, rwKey, rwSecret, nil, now))
	if status != 200 {
		t.Fatalf("virtual-host CreateSession: %d %s", status, body)
	}
	var res struct{ Credentials sessionCreds }
	if err := xml.Unmarshal(body, &res); err != nil || !strings.HasPrefix(res.Credentials.AccessKeyId, localsession.AccessKeyPrefix) {
		t.Fatalf("virtual-host CreateSession answer: %v: %s", err, body)
	}
	s := res.Credentials

	presign := func(rawURL, token string) string {
		req, _ := http.NewRequest("GET", rawURL+"?X-Amz-S3session-Token="+url.QueryEscape(token)+"&X-Amz-Expires=60", nil)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		u, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.AccessKeyId, SecretAccessKey: s.SecretAccessKey},
			req, "UNSIGNED-PAYLOAD", "s3express", region, now)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.emu.ResetStats()
	tests := []struct {
		name, url string
		status    int
		code      string
	}{
		{"token in the query", presign(e.url("/"+bucketData+"/forms/k"), s.SessionToken), 200, ""},
		{"wrong token in the query", presign(e.url("/"+bucketData+"/forms/k"), s.SessionToken[:len(s.SessionToken)-2]+"AA"), 400, "InvalidToken"},
		{"token in the query, another bucket", presign(e.url("/"+bucketOther+"/forms/k"), s.SessionToken), 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := do(t, anonymous(t, "GET", tt.url))
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if status == 200 && string(body) != "forms" {
				t.Fatalf("body %q", body)
			}
		})
	}
	if st := e.emu.Stats(); st.Requests["GetObject"] != 1 || total(st.Requests) != 1 {
		t.Fatalf("emulator saw %v, want only the one accepted GetObject", st.Requests)
	}

	t.Run("SDK presign client in S3 Express mode", func(t *testing.T) {
		sdk := s3.New(s3.Options{
			Region:           region,
			BaseEndpoint:     aws.String(e.srv.URL),
			Credentials:      awscreds.NewStaticCredentialsProvider(rwKey, rwSecret, ""),
			RetryMaxAttempts: 1,
		})
		pc := s3.NewPresignClient(sdk)
		get, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucketData), Key: aws.String("forms/k")})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(get.URL)
		if !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), localsession.AccessKeyPrefix) || u.Query().Get("X-Amz-S3session-Token") == "" {
			t.Fatalf("the SDK did not presign with a local session: %s", u.Query().Get("X-Amz-Credential"))
		}
		status, body, _ := do(t, anonymous(t, "GET", get.URL))
		if status != 200 || string(body) != "forms" {
			t.Fatalf("presigned GET: %d %s", status, body)
		}
	})
}

// TestSDKNativeS3ExpressReadOnly: the SDK in native S3 Express mode with
// the read-only key gets a ReadOnly local session: it reads, and its
// writes are 403 AccessDenied from the proxy without reaching the emulator.
func TestSDKNativeS3ExpressReadOnly(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "native-ro/k", []byte("read me"))
	sdk := s3.New(s3.Options{
		Region:           region,
		BaseEndpoint:     aws.String(e.srv.URL),
		Credentials:      awscreds.NewStaticCredentialsProvider(roKey, roSecret, ""),
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	out, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucketData), Key: aws.String("native-ro/k")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "read me" {
		t.Fatalf("GetObject: %q", got)
	}
	e.emu.ResetStats()
	_, err = sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketData), Key: aws.String("native-ro/w"),
		Body: strings.NewReader("nope"), ContentLength: aws.Int64(4)})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Fatalf("PutObject with a ReadOnly session: %v, want AccessDenied", err)
	}
	_, err = sdk.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucketData), Key: aws.String("native-ro/k")})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Fatalf("DeleteObject with a ReadOnly session: %v, want AccessDenied", err)
	}
	if st := e.emu.Stats(); total(st.Requests) != 0 {
		t.Fatalf("refused writes reached the emulator: %v", st.Requests)
	}
	var sawSession bool
	for _, rec := range e.recs.all() {
		if strings.HasPrefix(rec.Identity, localsession.AccessKeyPrefix) {
			sawSession = true
		}
	}
	if !sawSession {
		t.Fatal("the SDK did not use a local session")
	}
	if got := rw.get(t, bucketData, "native-ro/k"); string(got) != "read me" {
		t.Fatalf("object changed: %q", got)
	}
}

// apiErrorCode is the S3 error code of an SDK error ("" for nil).
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
