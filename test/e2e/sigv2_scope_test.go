package e2e

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// The tests in this file hold SigV2 to what it signs (docs/proxy.md,
// "SigV2"): the bucket of a virtual-host request is in the signature, and
// an operation selected by a query parameter SigV2 does not sign is
// refused, so a captured SigV2 request or URL cannot be turned into
// another operation or pointed at another bucket.

// vhostDomain is the virtual-host domain of the SigV2 envs: requests are
// sent to 127.0.0.1 with Host "<bucket>.localhost:<port>".
const vhostDomain = "localhost"

func newSigV2Env(t *testing.T) *env {
	return newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.SigV2 = true
		o.VirtualHostDomains = []string{vhostDomain}
	}})
}

// v2Request is a request to the proxy signed with SigV2 over resource (the
// CanonicalizedResource the client claims to sign) at time at; host, when
// set, replaces the Host header (a virtual-host request). x-amz-* headers
// already on it are signed.
func v2Request(t *testing.T, e *env, method, target, host, resource string, body []byte, hdr http.Header, key, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.url(target), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	setBody(req, body)
	if host != "" {
		req.Host = host
	}
	date := at.UTC().Format(http.TimeFormat)
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", "AWS "+key+":"+sigV2(secret, v2StringToSign(req, date, resource)))
	return req
}

// v2StringToSign is RESTAuthentication's string to sign over a given
// resource (independent of the proxy's canonicalizer).
func v2StringToSign(req *http.Request, dateLine, resource string) string {
	var amz []string
	for k, vs := range req.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk+":"+strings.Join(vs, ","))
		}
	}
	slices.Sort(amz)
	s := req.Method + "\n" + req.Header.Get("Content-Md5") + "\n" + req.Header.Get("Content-Type") + "\n" + dateLine + "\n"
	for _, h := range amz {
		s += h + "\n"
	}
	return s + resource
}

// v2Presign is a SigV2 presigned URL path (target + query auth) over resource.
func v2Presign(method, target, resource, key, secret string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	sig := sigV2(secret, method+"\n\n\n"+exp+"\n"+resource)
	return target + sep + "AWSAccessKeyId=" + key + "&Expires=" + exp + "&Signature=" + url.QueryEscape(sig)
}

// replay is req sent again to target (the proxy's path and query) with the
// same method, Host and headers (Authorization and Date included).
func replay(t *testing.T, e *env, req *http.Request, target string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(req.Method, e.url(target), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header = req.Header.Clone()
	r.Host = req.Host
	setBody(r, body)
	return r
}

// mustNotIssueSession fails t when body is a CreateSessionResult, after
// showing what its credentials would have allowed: a PUT into the bucket.
func mustNotIssueSession(t *testing.T, e *env, status int, body []byte, bucket string) {
	t.Helper()
	if status != http.StatusOK || !bytes.Contains(body, []byte("CreateSessionResult")) {
		return
	}
	var res struct{ Credentials sessionCreds }
	_ = xml.Unmarshal(body, &res)
	put := sessionRequest(t, "PUT", e.url("/"+bucket+"/escalated"), res.Credentials, res.Credentials.SessionToken, []byte("x"), time.Now())
	s, b, _ := do(t, put)
	t.Fatalf("a SigV2 request was answered as CreateSession; with its credentials a PUT got %d %s", s, b)
}

// TestSigV2QuerySelectedOperations: a SigV2-signed request replayed with a
// query parameter that SigV2 does not sign, which would select another
// operation (CreateSession by ?session above all: it hands out session
// credentials with the signer's rights), is refused with 403 AccessDenied
// saying SigV4 is required, and nothing reaches the emulator. The signed
// originals work.
func TestSigV2QuerySelectedOperations(t *testing.T) {
	e := newSigV2Env(t)
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "v2scope/k", []byte("stored"))
	port := strings.TrimPrefix(e.srv.URL, "http://127.0.0.1:")
	vhost := aliasData + "." + vhostDomain + ":" + port
	now := time.Now()

	listPath := v2Request(t, e, "GET", "/"+aliasData+"/", "", "/"+aliasData+"/", nil, nil, rwKey, rwSecret, now)
	listVhost := v2Request(t, e, "GET", "/", vhost, "/"+aliasData+"/", nil, nil, rwKey, rwSecret, now)
	getObj := v2Request(t, e, "GET", "/"+aliasData+"/v2scope/k", "", "/"+aliasData+"/v2scope/k", nil, nil, rwKey, rwSecret, now)
	putObj := v2Request(t, e, "PUT", "/"+aliasData+"/v2scope/put", "", "/"+aliasData+"/v2scope/put", []byte("v2"), nil, rwKey, rwSecret, now)
	presigned := v2Presign("GET", "/"+aliasData+"/", "/"+aliasData+"/", rwKey, rwSecret, now.Add(time.Hour))

	for _, tt := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"path-style listing", listPath, 200},
		{"virtual-host listing", listVhost, 200},
		{"presigned listing", anonymousGet(t, e.url(presigned)), 200},
		{"get", getObj, 200},
		{"put", putObj, 200},
	} {
		t.Run("signed "+tt.name, func(t *testing.T) {
			status, body, _ := do(t, tt.req)
			if status != tt.status {
				t.Fatalf("%d %s", status, body)
			}
		})
	}

	tests := []struct {
		name   string
		req    *http.Request
		bucket string
	}{
		{"listing + ?session", replay(t, e, listPath, "/"+aliasData+"/?session", nil), aliasData},
		{"listing + session=", replay(t, e, listPath, "/"+aliasData+"/?session=", nil), aliasData},
		{"listing + encoded %73ession", replay(t, e, listPath, "/"+aliasData+"/?%73ession", nil), aliasData},
		{"virtual-host listing + ?session", replay(t, e, listVhost, "/?session", nil), aliasData},
		{"presigned listing + &session", anonymousGet(t, e.url(presigned+"&session")), aliasData},
		{"presigned listing, session first", anonymousGet(t, e.url(strings.Replace(presigned, "/?", "/?session&", 1))), aliasData},
		{"listing + list-type=2", replay(t, e, listPath, "/"+aliasData+"/?list-type=2", nil), ""},
		{"listing + session&prefix", replay(t, e, listPath, "/"+aliasData+"/?session&prefix=a", nil), aliasData},
		{"get + attributes", replay(t, e, getObj, "/"+aliasData+"/v2scope/k?attributes", nil), ""},
		{"put + renameObject", replay(t, e, putObj, "/"+aliasData+"/v2scope/put?renameObject", []byte("v2")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			status, body, _ := do(t, tt.req)
			mustNotIssueSession(t, e, status, body, bucketData)
			if status != http.StatusForbidden || s3Code(body) != "AccessDenied" || !bytes.Contains(body, []byte("Signature Version 4 is required")) {
				t.Fatalf("got %d %s, want 403 AccessDenied saying Signature Version 4 is required", status, body)
			}
			noUpstream(t, e)
		})
	}
	if s := objectStatus(t, e, "escalated"); s != http.StatusNotFound {
		t.Errorf("HEAD escalated: %d, want 404", s)
	}
}

// anonymousGet is a GET with no auth headers (a presigned URL).
func anonymousGet(t *testing.T, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSigV2VirtualHostResource: a virtual-host SigV2 client signs
// "/<bucket>/<key>" (RESTAuthentication's johnsmith examples) and is
// accepted for reads and writes; a signature that leaves the bucket out,
// which bound the request to no bucket, is refused; and a captured
// virtual-host GET or PUT replayed against another bucket's host fails.
func TestSigV2VirtualHostResource(t *testing.T) {
	e := newSigV2Env(t)
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "secret.txt", []byte("data secret"))
	rw.put(t, bucketOther, "secret.txt", []byte("other secret"))
	port := strings.TrimPrefix(e.srv.URL, "http://127.0.0.1:")
	dataHost := aliasData + "." + vhostDomain + ":" + port
	otherHost := bucketOther + "." + vhostDomain + ":" + port
	now := time.Now()
	text := http.Header{"Content-Type": {"text/plain"}, "X-Amz-Meta-Who": {"v2"}}

	getData := v2Request(t, e, "GET", "/secret.txt", dataHost, "/"+aliasData+"/secret.txt", nil, nil, rwKey, rwSecret, now)
	putData := v2Request(t, e, "PUT", "/vhost/put", dataHost, "/"+aliasData+"/vhost/put", []byte("first"), text, rwKey, rwSecret, now)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
		body   string
	}{
		{"GET, bucket in the resource", getData, 200, "", "data secret"},
		{"PUT, bucket in the resource", putData, 200, "", ""},
		{"listing, bucket in the resource", v2Request(t, e, "GET", "/?prefix=vhost/", dataHost, "/"+aliasData+"/", nil, nil, rwKey, rwSecret, now), 200, "", ""},
		{"real bucket name host", v2Request(t, e, "GET", "/secret.txt", otherHost, "/"+bucketOther+"/secret.txt", nil, nil, rwKey, rwSecret, now), 200, "", "other secret"},
		{"path-style on the plain domain", v2Request(t, e, "GET", "/"+aliasData+"/secret.txt", vhostDomain+":"+port, "/"+aliasData+"/secret.txt", nil, nil, rwKey, rwSecret, now), 200, "", "data secret"},
		{"bucket left out of the resource", v2Request(t, e, "GET", "/secret.txt", otherHost, "/secret.txt", nil, nil, rwKey, rwSecret, now), 403, "SignatureDoesNotMatch", ""},
		{"GET replayed on another bucket's host", replay(t, e, getData, "/secret.txt", nil), 403, "SignatureDoesNotMatch", ""},
		{"PUT replayed on another bucket's host, other body", replay(t, e, putData, "/vhost/put", []byte("evil")), 403, "SignatureDoesNotMatch", ""},
		{"GET replayed path-style to another bucket", replay(t, e, getData, "/"+bucketOther+"/secret.txt", nil), 403, "SignatureDoesNotMatch", ""},
	}
	tests[6].req.Host, tests[7].req.Host = otherHost, otherHost
	tests[8].req.Host = vhostDomain + ":" + port
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			status, body, _ := do(t, tt.req)
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if tt.body != "" && string(body) != tt.body {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
			if status != 200 {
				noUpstream(t, e)
			}
		})
	}
	if got := rw.get(t, aliasData, "vhost/put"); string(got) != "first" {
		t.Errorf("data vhost/put = %q, want first", got)
	}
	if s, _, _ := rw.do(t, "HEAD", bucketOther, "vhost/put", "", nil, nil); s != http.StatusNotFound {
		t.Errorf("HEAD other vhost/put: %d, want 404 (the replayed PUT must not land)", s)
	}
}

// TestSigV2TimeBounds: a SigV2 presigned URL may not expire more than 7
// days ahead (10 years was accepted), and a header-signed request's Date
// must be within 15 minutes of the proxy's clock.
func TestSigV2TimeBounds(t *testing.T) {
	e := newSigV2Env(t)
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "v2time/k", []byte("x"))
	obj := "/" + aliasData + "/v2time/k"
	now := time.Now()
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"presigned 6 days", anonymousGet(t, e.url(v2Presign("GET", obj, obj, rwKey, rwSecret, now.Add(6*24*time.Hour)))), 200, ""},
		{"presigned 8 days", anonymousGet(t, e.url(v2Presign("GET", obj, obj, rwKey, rwSecret, now.Add(8*24*time.Hour)))), 400, "AuthorizationHeaderMalformed"},
		{"presigned 10 years", anonymousGet(t, e.url(v2Presign("GET", obj, obj, rwKey, rwSecret, now.AddDate(10, 0, 0)))), 400, "AuthorizationHeaderMalformed"},
		{"Date 14 minutes behind", v2Request(t, e, "GET", obj, "", obj, nil, nil, rwKey, rwSecret, now.Add(-14*time.Minute)), 200, ""},
		{"Date 16 minutes behind", v2Request(t, e, "GET", obj, "", obj, nil, nil, rwKey, rwSecret, now.Add(-16*time.Minute)), 403, "RequestTimeTooSkewed"},
		{"Date 16 minutes ahead", v2Request(t, e, "GET", obj, "", obj, nil, nil, rwKey, rwSecret, now.Add(16*time.Minute)), 403, "RequestTimeTooSkewed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := do(t, tt.req)
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
		})
	}
}
