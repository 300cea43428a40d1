package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// The upstream-signature property: whatever key, query string and operation
// a client sends, the request the proxy sends upstream verifies both under
// aws-sdk-go-v2's signer (re-signed from the wire request with the same
// credentials and time) and under the emulator's own verifier. It holds the
// proxy's one outbound query encoder, request-URI split and header edits to
// what S3 signs.

// sdkCheck re-signs every outbound request with the SDK's signer and
// records any Authorization that differs. It learns session secrets from
// CreateSession answers; the IAM secret is given.
type sdkCheck struct {
	next http.RoundTripper

	mu       sync.Mutex
	secrets  map[string]string // access key id → secret
	failures []string
}

var scopeRe = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (c *sdkCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	c.check(r)
	resp, err := c.next.RoundTrip(r)
	if err != nil || r.URL.RawQuery != "session" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var cs struct {
		Credentials struct{ AccessKeyId, SecretAccessKey string }
	}
	if rerr == nil && xml.Unmarshal(b, &cs) == nil {
		c.mu.Lock()
		c.secrets[cs.Credentials.AccessKeyId] = cs.Credentials.SecretAccessKey
		c.mu.Unlock()
	}
	return resp, nil
}

// check compares r's Authorization with the SDK's for the same request.
func (c *sdkCheck) check(r *http.Request) {
	auth := r.Header.Get("Authorization")
	m := scopeRe.FindStringSubmatch(auth)
	if m == nil {
		c.fail("%s %s: Authorization %q is not SigV4", r.Method, r.URL, auth)
		return
	}
	c.mu.Lock()
	secret, ok := c.secrets[m[1]]
	c.mu.Unlock()
	if !ok {
		c.fail("%s %s: unknown signing key %s", r.Method, r.URL, m[1])
		return
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		c.fail("%s %s: X-Amz-Date: %v", r.Method, r.URL, err)
		return
	}
	re := r.Clone(context.Background())
	re.Header.Del("Authorization")
	u := *r.URL
	re.URL = &u
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: m[1], SecretAccessKey: secret}
	if err := signer.SignHTTP(context.Background(), creds, re, r.Header.Get("X-Amz-Content-Sha256"), m[3], m[2], at); err != nil {
		c.fail("%s %s: SDK: %v", r.Method, r.URL, err)
		return
	}
	if got := re.Header.Get("Authorization"); got != auth {
		c.fail("%s %s (RawPath %q, RawQuery %q):\nproxy %s\nSDK   %s", r.Method, r.URL, r.URL.RawPath, r.URL.RawQuery, auth, got)
	}
}

func (c *sdkCheck) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, fmt.Sprintf(format, args...))
}

func (c *sdkCheck) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failures
	c.failures = nil
	return f
}

// sigEnv is a proxy in front of the emulator with an sdkCheck upstream.
func sigEnv(t testing.TB, mode string) (*env, *sdkCheck) {
	check := &sdkCheck{secrets: map[string]string{iamKey: iamSecret}}
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.SessionMode = mode
		check.next = o.Transport
		o.Transport = check
		o.AccessLog = false
	}})
	return e, check
}

// sigOp is an operation of the property: method, whether it names a key,
// its own query parameters and a body.
type sigOp struct {
	method string
	object bool
	query  string
	body   []byte
}

var sigOps = []sigOp{
	{http.MethodPut, true, "", []byte("hello")},
	{http.MethodGet, true, "", nil},
	{http.MethodHead, true, "", nil},
	{http.MethodDelete, true, "", nil},
	{http.MethodGet, true, "response-content-type=text%2Fplain", nil},
	{http.MethodPost, true, "uploads", nil},
	{http.MethodGet, false, "list-type=2", nil},
	{http.MethodGet, false, "list-type=2&prefix=", nil},
	{http.MethodGet, false, "uploads", nil},
	{http.MethodGet, false, "uploads=", nil},
}

// sigCase is one generated request.
type sigCase struct {
	op    sigOp
	key   string // decoded
	query string // raw, as the client sends it
}

// keyRunes mixes unreserved, reserved, space, percent and non-ASCII.
var keyRunes = []rune("abcXYZ019-._~/!$&'()*+,;=:@ %?#[]éß日本😀")

func randomKey(rng *rand.Rand) string {
	var b strings.Builder
	for n := 1 + rng.IntN(24); b.Len() < n; {
		b.WriteRune(keyRunes[rng.IntN(len(keyRunes))])
	}
	k := strings.Trim(b.String(), "/")
	// S3 refuses keys with "." or ".." path segments on directory buckets;
	// they say nothing about the encoding.
	var segs []string
	for _, s := range strings.Split(k, "/") {
		if s != "." && s != ".." && s != "" {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return "k"
	}
	return strings.Join(segs, "/")
}

// encodeRandomly percent-encodes s as some client might: bytes that must
// be escaped always are (upper or lower case hex), unreserved ones and the
// sub-delimiters a query tolerates sometimes are, a space is '+' or %20.
func encodeRandomly(rng *rand.Rand, s string, query bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
		literalOK := unreserved || (query && strings.IndexByte("/:@!$'()*,?", c) >= 0)
		switch {
		case query && c == ' ' && rng.IntN(2) == 0:
			b.WriteByte('+')
		case literalOK && rng.IntN(4) != 0:
			b.WriteByte(c)
		case rng.IntN(2) == 0:
			fmt.Fprintf(&b, "%%%02x", c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// nameRunes are the characters of generated parameter names: ASCII only,
// and no byte that sorts differently raw and encoded. aws-sdk-go-v2's
// signer sorts the canonical query by raw name (url.Values.Encode), SigV4 by
// encoded name, so names mixing e.g. "~" and "é" or "/" and "." sign
// differently under the SDK than under S3 whatever the proxy does; values
// have no such limit.
var nameRunes = []rune("abcXYZ019-._ !$&'()*+,#=")

func randomName(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteByte('p')
	for range 1 + rng.IntN(12) {
		b.WriteRune(nameRunes[rng.IntN(len(nameRunes))])
	}
	return b.String()
}

// canonicalPath encodes every byte but the unreserved ones and '/', hex
// upper case: the SigV4 canonical URI of an S3 path.
func canonicalPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// randomQuery adds zero to four client parameters: repeated, empty,
// valueless, with reserved and non-ASCII characters.
func randomQuery(rng *rand.Rand, base string) string {
	parts := []string{}
	if base != "" {
		parts = append(parts, base)
	}
	for range rng.IntN(5) {
		name := randomName(rng)
		switch rng.IntN(4) {
		case 0: // valueless
			parts = append(parts, encodeRandomly(rng, name, true))
		case 1: // empty
			parts = append(parts, encodeRandomly(rng, name, true)+"=")
		case 2: // repeated
			for range 2 {
				parts = append(parts, encodeRandomly(rng, name, true)+"="+encodeRandomly(rng, randomKey(rng), true))
			}
		default:
			parts = append(parts, encodeRandomly(rng, name, true)+"="+encodeRandomly(rng, randomKey(rng), true))
		}
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return strings.Join(parts, "&")
}

func randomSigCase(rng *rand.Rand) sigCase {
	op := sigOps[rng.IntN(len(sigOps))]
	return sigCase{op: op, key: randomKey(rng), query: randomQuery(rng, op.query)}
}

// authCodes are the answers that would mean a signature was refused.
var authCodes = map[string]bool{
	"SignatureDoesNotMatch": true, "AccessDenied": true, "AuthorizationHeaderMalformed": true,
	"InvalidAccessKeyId": true, "InvalidToken": true, "ExpiredToken": true, "InvalidRequest": true,
}

// run sends c through e and reports what went wrong, or "".
func (c sigCase) run(t testing.TB, e *env, check *sdkCheck) string {
	t.Helper()
	path, sent := "/"+aliasData, "/"+aliasData
	if c.op.object {
		path += "/" + c.key
		sent += "/" + encodeRandomly(rand.New(rand.NewPCG(uint64(len(c.key)), 7)), c.key, false)
	}
	uri := sent
	if c.query != "" {
		uri += "?" + c.query
	}
	req, err := http.NewRequest(c.op.method, e.url(uri), nil)
	if err != nil {
		return "" // not a request a client could send
	}
	// The client signs the canonical path (the SDK signs the path as it
	// is encoded), then sends it encoded its own way: the proxy decodes it.
	req.URL.Path, req.URL.RawPath = path, canonicalPath(path)
	req = signedRequestFrom(t, req, rwKey, rwSecret, c.op.body, time.Now())
	req.URL.RawPath = sent
	status, body, _ := do(t, req)
	var problems []string
	if code := s3Code(body); authCodes[code] || status == http.StatusForbidden {
		problems = append(problems, fmt.Sprintf("answered %d %s: %s", status, code, body))
	}
	problems = append(problems, check.take()...)
	if len(problems) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s (key %q): %s", c.op.method, uri, c.key, strings.Join(problems, "\n"))
}

// TestUpstreamSignatureProperty: a bounded number of random cases (the
// seed is logged). Session-signed data requests and the IAM-signed
// CreateSession calls are both checked.
func TestUpstreamSignatureProperty(t *testing.T) {
	e, check := sigEnv(t, "auto")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	n := 300
	if testing.Short() {
		n = 50
	}
	for range n {
		c := randomSigCase(rng)
		if msg := c.run(t, e, check); msg != "" {
			t.Errorf("%s", msg)
		}
	}
}

// FuzzUpstreamSignature: the same property for fuzzed keys, queries and
// operations (go test -fuzz FuzzUpstreamSignature ./test/e2e).
func FuzzUpstreamSignature(f *testing.F) {
	f.Add("a/b c+d", "uploads&p%7e=&p=2&p=1", uint8(0))
	f.Add("日本/😀", "list-type=2&prefix=&pé=%C3%A9+x", uint8(6))
	f.Add("k", "p!$'()*,=:@/?", uint8(5))
	e, check := sigEnv(f, "auto")
	f.Fuzz(func(t *testing.T, key, query string, op uint8) {
		if key == "" || strings.ContainsAny(key, "\x00\r\n") || strings.ContainsAny(query, "# \x00\r\n\t") || !utf8.ValidString(key) {
			t.Skip()
		}
		c := sigCase{op: sigOps[int(op)%len(sigOps)], key: key, query: query}
		if c.op.query != "" {
			c.query = strings.TrimPrefix(c.op.query+"&"+query, "&")
		}
		if msg := c.run(t, e, check); msg != "" {
			t.Error(msg)
		}
	})
}
