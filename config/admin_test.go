package config

import "testing"

// TestAdminToken: admin.token comes from the environment like any secret
// and is kept as written; errors about it never show it (errors_test.go).
func TestAdminToken(t *testing.T) {
	cfg := mustParse(t, "upstream: {region: us-west-2}\nadmin: {listen: \":9090\", token: \"${ADMIN_TOKEN}\"}\n",
		map[string]string{"ADMIN_TOKEN": "admin-token-0123456789"})
	if cfg.Admin.Token != "admin-token-0123456789" {
		t.Fatalf("admin.token = %q", cfg.Admin.Token)
	}
}
