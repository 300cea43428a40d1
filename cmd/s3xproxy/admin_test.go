package main

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeAdminToken: admin.token reaches the admin listener. A token set
// on a loopback listener is required for POST /-/reload; the probes and
// /metrics stay open, and the token never appears in the log.
func TestServeAdminToken(t *testing.T) {
	const token = "serve-admin-token-0123456789"
	cfg := strings.Replace(serveConfig("127.0.0.1:1", ""), "admin:\n  listen: 127.0.0.1:0\n",
		"admin:\n  listen: 127.0.0.1:0\n  token: ${S3XP_TEST_ADMIN_TOKEN}\n", 1)
	t.Setenv("S3XP_TEST_ADMIN_TOKEN", token)
	r := startServe(t, cfg)
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"reload without the token", "POST", "/-/reload", "", 401},
		{"reload with a wrong token", "POST", "/-/reload", "Bearer " + strings.Repeat("x", len(token)), 401},
		{"reload with the token", "POST", "/-/reload", "Bearer " + token, 200},
		{"healthz open", "GET", "/healthz", "", 200},
		{"metrics open", "GET", "/metrics", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, r.admin()+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if strings.Contains(r.log.String(), token) {
		t.Fatal("the admin token appears in the log")
	}
}

// TestCheckWarnsExposedAdmin: s3xproxy check accepts an admin listener off
// loopback without admin.token but warns that reload and pprof will
// answer 403; with a token or on loopback it says nothing.
func TestCheckWarnsExposedAdmin(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, admin string
		warn        bool
	}{
		{"exposed without a token", `{listen: ":9090"}`, true},
		{"all interfaces without a token", `{listen: "0.0.0.0:9090"}`, true},
		{"exposed with a token", `{listen: ":9090", token: 0123456789abcdef}`, false},
		{"loopback without a token", `{listen: "127.0.0.1:9090"}`, false},
		{"disabled", `{listen: ""}`, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
			writeConfig(t, path, "upstream: {region: us-west-2}\nadmin: "+tt.admin+"\n")
			var out, errb bytes.Buffer
			if code := run([]string{"check", path}, &out, &errb); code != 0 || out.String() != "ok\n" {
				t.Fatalf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
			want := path + ": warning: admin.token: not set"
			if got := strings.Contains(errb.String(), want); got != tt.warn {
				t.Fatalf("stderr %q: warning %v, want %v", errb.String(), got, tt.warn)
			}
			if strings.Contains(errb.String(), "0123456789abcdef") {
				t.Fatal("the token was printed")
			}
		})
	}
}
