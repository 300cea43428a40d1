package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds one /readyz check (the caller's check may resolve
// credentials over the network).
const readyTimeout = 5 * time.Second

// adminMux is the admin listener's routes:
//
//	GET  /healthz      200 while the process is up
//	GET  /readyz       200 when Ready returns nil, else 503 with the reason
//	GET  /metrics      Prometheus text format from Options.Gatherer
//	POST /-/reload     Options.Reload: 200, or 500 with the errors
//	     /debug/pprof/ only when Options.PProf
func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	if s.opts.Reload != nil {
		mux.HandleFunc("POST /-/reload", s.serveReload)
	}
	if s.opts.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// serveReload runs Options.Reload. Its error text is returned to the
// caller: config errors name file, line and key, never a secret value.
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Reload(r.Context()); err != nil {
		http.Error(w, "reload failed:\n"+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "reloaded")
}
