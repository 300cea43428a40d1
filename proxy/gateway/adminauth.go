package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// LoopbackAddr reports whether a listen address (host:port, as configured
// or as bound) accepts connections only from this host: its host is
// "localhost" or an IP address in 127.0.0.0/8 or ::1. An empty host,
// 0.0.0.0 and :: (every interface), any other address and any other name
// (names are not resolved) are not loopback.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr // a bare host
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 { // fe80::1%eth0
		host = host[:i]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminGuard protects the admin endpoints that change state or expose
// internals (POST /-/reload, /debug/pprof/). When required, a request
// must carry "Authorization: Bearer <token>" (RFC 6750); the token is
// compared in constant time. Without a configured token the endpoints
// answer 403: they are disabled, not open.
type adminGuard struct {
	required bool
	// sum is the SHA-256 of the token (nil: no token), so the comparison
	// takes the same time whatever the length of the presented value.
	sum []byte
}

func newAdminGuard(token string, required bool) adminGuard {
	g := adminGuard{required: required || token != ""}
	if token != "" {
		s := sha256.Sum256([]byte(token))
		g.sum = s[:]
	}
	return g
}

// wrap returns h guarded (h itself when no token is required).
func (g adminGuard) wrap(h http.HandlerFunc) http.HandlerFunc {
	if !g.required {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if g.sum == nil {
			http.Error(w, "forbidden: this admin endpoint needs admin.token when the admin listener is not loopback", http.StatusForbidden)
			return
		}
		if !g.allows(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="s3xproxy-admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// allows reports whether r presents the token. The scheme name is
// case-insensitive (RFC 7235 section 2.1).
func (g adminGuard) allows(r *http.Request) bool {
	vs := r.Header.Values("Authorization")
	if len(vs) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	s := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(s[:], g.sum) == 1
}
