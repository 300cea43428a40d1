package main

import (
	"net/http"
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
