package config

// intRange records an error unless lo <= n <= hi.
func (v *validator) intRange(p string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errorf(p, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// adminToken checks admin.token without ever showing it: empty, or at
// least 16 characters with no whitespace or control characters (it
// travels in an Authorization header).
func (v *validator) adminToken(tok string) {
	if tok == "" {
		return
	}
	if len(tok) < 16 {
		v.errorf("admin.token", "must be at least 16 characters (got %d)", len(tok))
	}
	for _, c := range tok {
		if c <= ' ' || c == 0x7f {
			v.errorf("admin.token", "must not contain spaces or control characters")
			return
		}
	}
}

// limits checks the keys that bound memory under load: the body idle
// timeout, the connection and in-flight caps (0 disables each).
func (v *validator) limits(c *Config) {
	v.nonNegative("server.body_idle_timeout", c.Server.BodyIdleTimeout)
	if c.Server.MaxConnections < 0 {
		v.errorf("server.max_connections", "must be >= 0 (0: no cap)")
	}
	if c.Server.MaxInFlight < 0 {
		v.errorf("server.max_in_flight", "must be >= 0 (0: no cap)")
	}
}
