package config

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	zoneRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
	// aliasRE is a legacy (general purpose) bucket name: 3-63 of a-z 0-9 . -
	aliasRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	baseRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// validZoneLen is the set of zone id lengths the SDK endpoint rules accept
// (s3express-protocol.md 1.2).
var validZoneLen = map[int]bool{8: true, 9: true, 13: true, 14: true, 20: true}

// checkDirectoryBucket reports why name is not a directory bucket name
// (base--zone--x-s3, parsed from the end), or "" when it is one.
func checkDirectoryBucket(name string) string {
	const suffix = "--x-s3"
	if !strings.HasSuffix(name, suffix) {
		return "must be a directory bucket name ending in --x-s3"
	}
	if len(name) < 3 || len(name) > 63 {
		return "must be 3 to 63 characters"
	}
	rest := strings.TrimSuffix(name, suffix)
	i := strings.LastIndex(rest, "--")
	if i <= 0 {
		return "must look like base--zone-id--x-s3"
	}
	base, zone := rest[:i], rest[i+2:]
	if !validZoneLen[len(zone)] || !zoneRE.MatchString(zone) {
		return fmt.Sprintf("zone id %q must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and -", zone)
	}
	if !baseRE.MatchString(base) {
		return "base name must use only a-z, 0-9 and -"
	}
	return ""
}

func (v *validator) upstream(u *Upstream) {
	switch {
	case u.Region == "":
		v.errorf("upstream.region", "required")
	case !regionRE.MatchString(u.Region):
		v.errorf("upstream.region", "must be a region such as us-west-2, got %s", v.d.show("upstream.region", u.Region))
	}
	for _, zone := range slices.Sorted(maps.Keys(u.Zones)) { // stable error order
		region := u.Zones[zone]
		p := "upstream.zones." + zone
		if !validZoneLen[len(zone)] || !zoneRE.MatchString(zone) {
			v.errorf(p, "zone id must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and - (e.g. usw2-az1)")
		}
		if !regionRE.MatchString(region) {
			v.errorf(p, "must be a region such as us-west-2, got %s", v.d.show(p, region))
		}
	}
	v.oneOf("upstream.scheme", u.Scheme, "https", "http")
	v.hostPort("upstream.dial_address", u.DialAddress, false, true)
	v.file("upstream.ca_file", u.CAFile, false)
	if !hostnameRE.MatchString(u.DNSSuffix) {
		v.errorf("upstream.dns_suffix", "must be a DNS suffix such as amazonaws.com, got %s", v.d.show("upstream.dns_suffix", u.DNSSuffix))
	}
	if u.MaxIdleConns < 1 {
		v.errorf("upstream.max_idle_conns", "must be >= 1")
	}
	if u.MaxIdleConnsPerHost < 1 || u.MaxIdleConnsPerHost > u.MaxIdleConns {
		v.errorf("upstream.max_idle_conns_per_host", "must be >= 1 and <= upstream.max_idle_conns")
	}
	v.positive("upstream.idle_conn_timeout", u.IdleConnTimeout)
	v.nonNegative("upstream.response_header_timeout", u.ResponseHeaderTimeout)
	v.upstreamCredentials(&u.Credentials)
}

func (v *validator) upstreamCredentials(c *Credentials) {
	const p = "upstream.credentials"
	static := c.AccessKeyID != "" || c.SecretAccessKey != ""
	if static && c.AccessKeyID == "" {
		v.errorf(p+".access_key_id", "required with secret_access_key")
	}
	if static && c.SecretAccessKey == "" {
		v.errorf(p+".secret_access_key", "required with access_key_id")
	}
	if c.SessionToken != "" && !static {
		v.errorf(p+".session_token", "needs access_key_id and secret_access_key")
	}
	if static && c.Profile != "" {
		v.errorf(p+".profile", "cannot be combined with static access_key_id/secret_access_key")
	}
	if c.RoleARN != "" && (!strings.HasPrefix(c.RoleARN, "arn:") || !strings.Contains(c.RoleARN, ":role/")) {
		v.errorf(p+".role_arn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/s3xproxy")
	}
}

func (v *validator) buckets(b *Buckets) {
	v.oneOf("buckets.default", b.Default, "passthrough", "deny")
	if z := b.DefaultZone; z != "" && (!validZoneLen[len(z)] || !zoneRE.MatchString(z)) {
		v.errorf("buckets.default_zone", "zone id must be 8, 9, 13, 14 or 20 characters of a-z, 0-9 and - (e.g. usw2-az1), got %s", v.d.show("buckets.default_zone", z))
	}
	for i, name := range b.Allow {
		p := fmt.Sprintf("buckets.allow[%d]", i)
		if msg := checkDirectoryBucket(name); msg != "" {
			v.errorf(p, "%s, got %s", msg, v.d.show(p, name))
		}
	}
	names := map[string]string{}
	for i, a := range b.Aliases {
		p := fmt.Sprintf("buckets.aliases[%d]", i)
		switch {
		case a.Name == "":
			v.errorf(p+".name", "required")
		case strings.HasSuffix(a.Name, "--x-s3"):
			v.errorf(p+".name", "must not end in --x-s3 (it would hide a real directory bucket)")
		case !aliasRE.MatchString(a.Name):
			v.errorf(p+".name", "must be 3 to 63 characters of a-z, 0-9, . and -, got %s", v.d.show(p+".name", a.Name))
		case names[a.Name] != "":
			v.errorf(p+".name", "duplicate alias %q (also %s)", a.Name, names[a.Name])
		default:
			names[a.Name] = p
		}
		if a.Target == "" {
			v.errorf(p+".target", "required")
		} else if msg := checkDirectoryBucket(a.Target); msg != "" {
			v.errorf(p+".target", "%s, got %s", msg, v.d.show(p+".target", a.Target))
		}
		if a.Anonymous != "" {
			v.oneOf(p+".anonymous", a.Anonymous, "deny", "read", "read-write")
		}
	}
}

// sessionLifetime is the S3 Express session lifetime (5 minutes).
const sessionLifetime = 5 * time.Minute

func (v *validator) sessions(s *Sessions) {
	v.oneOf("sessions.mode", s.Mode, "auto", "readwrite", "iam")
	if s.RefreshBefore <= 0 || s.RefreshBefore >= sessionLifetime {
		v.errorf("sessions.refresh_before", "must be > 0 and < 5m (the session lifetime)")
	}
	if s.MaxEntries < 1 {
		v.errorf("sessions.max_entries", "must be >= 1")
	}
	v.positive("sessions.idle_ttl", s.IdleTTL)
	if !(s.CreateRate > 0) {
		v.errorf("sessions.create_rate", "must be > 0")
	}
	if s.CreateBurst < 1 {
		v.errorf("sessions.create_burst", "must be >= 1")
	}
	v.nonNegative("sessions.create_wait", s.CreateWait)
	v.nonNegative("sessions.failure_ttl", s.FailureTTL)
	v.positive("sessions.create_timeout", s.CreateTimeout)
	// A default derived from an invalid create_rate is reported there only.
	if !(s.CreateRatePerIdentity > 0) && (v.d.set["sessions.create_rate_per_identity"] || s.CreateRate > 0) {
		v.errorf("sessions.create_rate_per_identity", "must be > 0")
	}
	if s.CreateBurstPerIdentity < 1 {
		v.errorf("sessions.create_burst_per_identity", "must be >= 1")
	}
	v.positive("sessions.negative_ttl", s.NegativeTTL)
}

func (v *validator) auth(a *Auth) {
	v.oneOf("auth.anonymous", a.Anonymous, "deny", "read", "read-write")
	v.positive("auth.max_clock_skew", a.MaxClockSkew)
	v.localSessions(a)
	keys := map[string]string{}
	for i, c := range a.Credentials {
		p := fmt.Sprintf("auth.credentials[%d]", i)
		switch {
		case c.AccessKeyID == "":
			v.errorf(p+".access_key_id", "required")
		case strings.ContainsAny(c.AccessKeyID, "/ \t\r\n="):
			v.errorf(p+".access_key_id", "must not contain '/', '=' or spaces")
		case keys[c.AccessKeyID] != "":
			v.errorf(p+".access_key_id", "duplicate access key id (also %s)", keys[c.AccessKeyID])
		default:
			keys[c.AccessKeyID] = p
		}
		if c.SecretAccessKey == "" {
			v.errorf(p+".secret_access_key", "required")
		}
		for j, g := range c.Buckets {
			gp := fmt.Sprintf("%s.buckets[%d]", p, j)
			if _, err := path.Match(g, ""); err != nil || g == "" {
				v.errorf(gp, "must be a bucket name or glob such as logs-*, got %s", v.d.show(gp, g))
			}
		}
		v.oneOf(p+".access", c.Access, "read", "read-write", "deny")
	}
}
