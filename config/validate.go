package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// validator checks a decoded, defaulted Config and records every problem
// on the decoder, at the line of the key (or of its nearest written parent).
type validator struct{ d *decoder }

func validate(c *Config, d *decoder) {
	v := &validator{d: d}
	v.server(&c.Server, &c.TLS)
	v.tls(&c.TLS, &c.Server)
	v.listen("admin.listen", c.Admin.Listen, false)
	v.adminToken(c.Admin.Token)
	v.oneOf("log.level", c.Log.Level, "trace", "debug", "info", "warn", "error", "disabled")
	v.oneOf("log.format", c.Log.Format, "json", "console")
	v.upstream(&c.Upstream)
	v.buckets(&c.Buckets)
	v.sessions(&c.Sessions)
	v.auth(&c.Auth)
	v.intRange("compat.max_list_pages_per_request", c.Compat.MaxListPagesPerRequest, 1, 1000)
	v.limits(c)
	v.oneOf("compat.payload_md5", c.Compat.PayloadMD5, "declared", "always")
}

// lineOf returns the line of path or of its nearest ancestor, 0 if none.
func (d *decoder) lineOf(p string) int {
	for p != "" {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (v *validator) errorf(p, format string, args ...any) {
	if v.d.bad[p] {
		return
	}
	v.d.errorf(v.d.lineOf(p), p, format, args...)
}

func (v *validator) oneOf(p, val string, choices ...string) {
	for _, c := range choices {
		if val == c {
			return
		}
	}
	v.errorf(p, "must be one of %s, got %s", strings.Join(choices, ", "), v.d.show(p, val))
}

// listen checks a host:port or :port address; "" is allowed unless
// required. needHost also requires the host part (dial addresses).
func (v *validator) listen(p, addr string, required bool) { v.hostPort(p, addr, required, false) }

func (v *validator) hostPort(p, addr string, required, needHost bool) {
	if addr == "" {
		if required {
			v.errorf(p, "required")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(p, "must be host:port or :port, got %s", v.d.show(p, addr))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf(p, "port must be a number from 0 to 65535, got %s", v.d.show(p, addr))
	}
	if needHost && host == "" {
		v.errorf(p, "must name a host, got %s", v.d.show(p, addr))
	}
}

func (v *validator) positive(p string, d time.Duration) {
	if d <= 0 {
		v.errorf(p, "must be > 0")
	}
}

func (v *validator) nonNegative(p string, d time.Duration) {
	if d < 0 {
		v.errorf(p, "must not be negative")
	}
}

// file checks that a named file exists and is a regular file.
func (v *validator) file(p, name string, required bool) {
	if name == "" {
		if required {
			v.errorf(p, "required")
		}
		return
	}
	st, err := os.Stat(name)
	switch {
	case err != nil:
		v.errorf(p, "cannot use file %s: %v", v.d.show(p, name), errorsCause(err))
	case !st.Mode().IsRegular():
		v.errorf(p, "%s is not a regular file", v.d.show(p, name))
	}
}

// errorsCause strips the path from an *os.PathError (it is shown already).
func errorsCause(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func (v *validator) server(s *Server, t *TLS) {
	v.listen("server.listen", s.Listen, false)
	if s.Listen == "" && t.Mode == "off" {
		v.errorf("server.listen", "must be set when tls.mode is off (nothing would listen)")
	}
	seen := map[string]bool{}
	for i, dom := range s.VirtualHostDomains {
		p := fmt.Sprintf("server.virtual_host_domains[%d]", i)
		switch {
		case !hostnameRE.MatchString(dom):
			v.errorf(p, "must be a DNS name such as s3.example.internal, got %s", v.d.show(p, dom))
		case seen[strings.ToLower(dom)]:
			v.errorf(p, "duplicate domain %s", v.d.show(p, dom))
		}
		seen[strings.ToLower(dom)] = true
	}
	v.nonNegative("server.shutdown_grace", s.ShutdownGrace)
	v.nonNegative("server.drain_delay", s.DrainDelay)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	if s.MaxHeaderBytes < 4096 {
		v.errorf("server.max_header_bytes", "must be at least 4096")
	}
	if s.HTTPRedirect && t.Mode == "off" {
		v.errorf("server.http_redirect", "needs tls.mode other than off")
	}
}

func (v *validator) tls(t *TLS, s *Server) {
	v.oneOf("tls.mode", t.Mode, "off", "files", "acme", "self-signed")
	if t.Mode == "off" {
		return
	}
	v.listen("tls.listen", t.Listen, true)
	switch t.Mode {
	case "files":
		v.file("tls.cert_file", t.CertFile, true)
		v.file("tls.key_file", t.KeyFile, true)
	case "acme":
		v.acme(&t.ACME, s)
	}
}

func (v *validator) acme(a *ACME, s *Server) {
	if a.Email == "" {
		v.errorf("tls.acme.email", "required when tls.mode is acme")
	} else if !strings.Contains(a.Email, "@") {
		v.errorf("tls.acme.email", "must be an email address, got %s", v.d.show("tls.acme.email", a.Email))
	}
	if len(a.Domains) == 0 && !a.OnDemand {
		v.errorf("tls.acme.domains", "list at least one domain, or set on_demand, when tls.mode is acme")
	}
	for i, dom := range a.Domains {
		p := fmt.Sprintf("tls.acme.domains[%d]", i)
		if !hostnameRE.MatchString(strings.TrimPrefix(dom, "*.")) {
			v.errorf(p, "must be a DNS name, got %s", v.d.show(p, dom))
		}
	}
	if a.OnDemand && len(s.VirtualHostDomains) == 0 {
		v.errorf("tls.acme.on_demand", "needs server.virtual_host_domains (certificates are issued for <bucket>.<domain>)")
	}
	if u, err := url.Parse(a.CA); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.errorf("tls.acme.ca", "must be an http(s) ACME directory URL, got %s", v.d.show("tls.acme.ca", a.CA))
	}
	v.file("tls.acme.ca_file", a.CAFile, false)
	if a.Storage == "" {
		v.errorf("tls.acme.storage", "required when tls.mode is acme")
	}
}
