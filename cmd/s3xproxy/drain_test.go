package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeDrainDelay: on SIGTERM with server.drain_delay, /readyz fails
// at once while the client listener still accepts new connections and
// serves them, so a load balancer can take the replica out before its
// listener closes; after the delay the process drains and exits 0.
func TestServeDrainDelay(t *testing.T) {
	_, up, _ := startEmulator(t, "memory")
	cfg := strings.Replace(serveConfig(up.Listener.Addr().String(), ""), "shutdown_grace: 5m", "shutdown_grace: 5m\n  drain_delay: 1500ms", 1)
	r := startServe(t, cfg)
	base, admin := r.base(), r.admin()
	if st, _ := do(t, "GET", admin+"/readyz", nil); st != 200 {
		t.Fatalf("readyz before SIGTERM = %d", st)
	}
	sent := time.Now()
	r.sigs <- syscall.SIGTERM
	waitFor(t, "readiness failing", func() bool {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	// A new connection (as a balancer that has not yet seen the failed
	// check opens) is still accepted and served.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(base + "/logs/missing")
	if err != nil {
		t.Fatalf("new connection during the drain delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("request during the drain delay = %d, want 404", resp.StatusCode)
	}
	if code := r.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0; log:\n%s", code, r.log)
	}
	if d := time.Since(sent); d < 1500*time.Millisecond {
		t.Fatalf("listeners closed after %v, before the 1.5 s drain delay", d)
	}
}
