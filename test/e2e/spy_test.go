package e2e

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// spy collects every secret-bearing value that crosses the proxy: inbound
// and outbound signatures, session tokens and the session secrets from
// CreateSession answers. assertNoSecretsLogged greps the logs for them.
type spy struct {
	mu      sync.Mutex
	secrets map[string]bool
}

var (
	sigRe     = regexp.MustCompile(`Signature=([0-9a-f]{64})`)
	sessionRe = regexp.MustCompile(`<(SessionToken|SecretAccessKey)>([^<]+)</`)
)

func (s *spy) add(v string) {
	if len(v) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets == nil {
		s.secrets = map[string]bool{}
	}
	s.secrets[v] = true
}

func (s *spy) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v := range s.secrets {
		out = append(out, v)
	}
	return out
}

// headers records signatures and tokens found in h and the query.
func (s *spy) headers(h http.Header, rawQuery string) {
	for _, m := range sigRe.FindAllStringSubmatch(h.Get("Authorization"), -1) {
		s.add(m[1])
	}
	if a := h.Get("Authorization"); strings.HasPrefix(a, "AWS ") {
		if _, sig, ok := strings.Cut(a, ":"); ok {
			s.add(sig) // SigV2
		}
	}
	for _, k := range []string{"X-Amz-S3session-Token", "X-Amz-Security-Token"} {
		s.add(h.Get(k))
	}
	if i := strings.Index(rawQuery, "X-Amz-Signature="); i >= 0 {
		s.add(strings.SplitN(rawQuery[i+len("X-Amz-Signature="):], "&", 2)[0])
	}
}

// handler wraps the proxy handler to see inbound requests.
func (s *spy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.headers(r.Header, r.URL.RawQuery)
		next.ServeHTTP(w, r)
	})
}

// transport wraps the upstream transport to see outbound requests and
// CreateSession answers.
type spyTransport struct {
	s    *spy
	next http.RoundTripper
}

func (t *spyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	// Read the headers after the round trip: signing happens before.
	t.s.headers(r.Header, r.URL.RawQuery)
	if err != nil || !strings.Contains(r.URL.RawQuery, "session") || resp.StatusCode != 200 {
		return resp, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if rerr != nil {
		return resp, nil
	}
	for _, m := range sessionRe.FindAllStringSubmatch(string(b), -1) {
		t.s.add(m[2])
	}
	return resp, nil
}

// assertNoSecretsLogged fails if any secret, signature or token seen in
// this environment appears in its captured log output.
func assertNoSecretsLogged(t *testing.T, e *env) {
	t.Helper()
	logs := e.logs.String()
	if logs == "" {
		t.Error("no log output captured: the access log is off?")
	}
	secrets := append(e.spy.all(), iamSecret, rwSecret, roSecret, narrowSecret)
	if len(secrets) < 6 {
		t.Errorf("spy saw only %d secrets: it is not wired", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log output contains a secret/signature/token (%d chars, starts %.4s...)", len(s), s)
		}
	}
}
