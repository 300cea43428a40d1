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
//
// Reload and pprof need Options.AdminToken (as a bearer token) when one is
// set, when Options.AdminRequireToken is set, or when the admin listener
// is not loopback (LoopbackAddr of the bound address); without a token
// they then answer 403. /healthz, /readyz and /metrics stay open: probes
// and scrapers reach them from outside the pod.
func (s *Server) adminMux() http.Handler {
	g := newAdminGuard(s.opts.AdminToken, s.opts.AdminRequireToken || !LoopbackAddr(s.addrs[2].String()))
	if g.required && g.sum == nil && (s.opts.Reload != nil || s.opts.PProf) {
		s.opts.Logger.Warn().Stringer("admin_listen", s.addrs[2]).
			Msg("admin listener is not loopback and admin.token is not set: POST /-/reload and /debug/pprof/ answer 403")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	if s.opts.Reload != nil {
		mux.HandleFunc("POST /-/reload", g.wrap(s.serveReload))
	}
	if s.opts.PProf {
		mux.HandleFunc("/debug/pprof/", g.wrap(pprof.Index))
		mux.HandleFunc("/debug/pprof/cmdline", g.wrap(pprof.Cmdline))
		mux.HandleFunc("/debug/pprof/profile", g.wrap(pprof.Profile))
		mux.HandleFunc("/debug/pprof/symbol", g.wrap(pprof.Symbol))
		mux.HandleFunc("/debug/pprof/trace", g.wrap(pprof.Trace))
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
