package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9090", true},
		{"127.3.4.5:9090", true},
		{"[::1]:9090", true},
		{"localhost:9090", true},
		{"LOCALHOST:9090", true},
		{"127.0.0.1", true},
		{"[::ffff:127.0.0.1]:9090", true},
		{":9090", false},
		{"0.0.0.0:9090", false},
		{"[::]:9090", false},
		{"", false},
		{"10.0.0.5:9090", false},
		{"[fe80::1%eth0]:9090", false},
		{"admin.internal:9090", false},
		{"localhost.evil.example:9090", false},
		{"128.0.0.1:9090", false},
	}
	for _, tt := range tests {
		if got := LoopbackAddr(tt.addr); got != tt.want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestAdminToken: with the admin listener treated as reachable from other
// hosts (AdminRequireToken; the decision itself is TestLoopbackAddr's),
// reload and pprof need the bearer token, or answer 403 when none is
// configured, while /metrics, /healthz and /readyz stay open. A token set
// on a loopback listener is required too.
func TestAdminToken(t *testing.T) {
	const token = "s3cr3t-admin-token-0123456789"
	type check struct {
		method, path, auth string
		status             int
	}
	open := []check{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/metrics", "", 200},
	}
	tests := []struct {
		name     string
		token    string
		required bool
		checks   []check
		reloads  int64
	}{
		{"exposed without a token", "", true, append([]check{
			{"POST", "/-/reload", "", 403},
			{"POST", "/-/reload", "Bearer anything", 403},
			{"GET", "/debug/pprof/", "", 403},
			{"GET", "/debug/pprof/cmdline", "", 403},
		}, open...), 0},
		{"exposed with a token", token, true, append([]check{
			{"POST", "/-/reload", "", 401},
			{"POST", "/-/reload", "Bearer wrong", 401},
			{"POST", "/-/reload", "Bearer " + token + "x", 401},
			{"POST", "/-/reload", "Basic " + token, 401},
			{"POST", "/-/reload", token, 401},
			{"GET", "/debug/pprof/", "", 401},
			{"GET", "/debug/pprof/symbol", "Bearer nope", 401},
			{"POST", "/-/reload", "Bearer " + token, 200},
			{"POST", "/-/reload", "bearer " + token, 200},
			{"GET", "/debug/pprof/", "Bearer " + token, 200},
		}, open...), 2},
		{"loopback with a token", token, false, []check{
			{"POST", "/-/reload", "", 401},
			{"POST", "/-/reload", "Bearer " + token, 200},
			{"GET", "/metrics", "", 200},
		}, 1},
		{"loopback without a token", "", false, []check{
			{"POST", "/-/reload", "", 200},
			{"GET", "/debug/pprof/", "", 200},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reloads atomic.Int64
			s := startGateway(t, Options{
				Handler:           http.NotFoundHandler(),
				Gatherer:          prometheus.NewRegistry(),
				PProf:             true,
				AdminToken:        tt.token,
				AdminRequireToken: tt.required,
				Reload:            func(context.Context) error { reloads.Add(1); return nil },
			})
			_, _, admin := s.Addrs()
			for _, c := range tt.checks {
				req, _ := http.NewRequest(c.method, "http://"+admin.String()+c.path, nil)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("%s %s (%q): %d %.60q, want %d", c.method, c.path, c.auth, resp.StatusCode, body, c.status)
				}
				if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
				}
				if tt.token != "" && strings.Contains(string(body), tt.token) {
					t.Errorf("the token leaked into a response body")
				}
			}
			if got := reloads.Load(); got != tt.reloads {
				t.Errorf("reload ran %d times, want %d", got, tt.reloads)
			}
		})
	}
}
