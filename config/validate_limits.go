package config

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
