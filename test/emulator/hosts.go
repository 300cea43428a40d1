package emulator

import (
	"net"
	"strings"
	"sync"
)

// hostKind says which S3 endpoint a Host header names.
type hostKind int

const (
	hostUnknown hostKind = iota
	hostZonal            // <bucket>.s3express-<zone>.<region>.<suffix>; bucket empty = path-style attempt
	hostControl          // s3express-control.<region>.<suffix>
	hostGeneral          // [<bucket>.]s3.<region>.<suffix>
)

// hostInfo is the parsed Host header.
type hostInfo struct {
	kind    hostKind
	bucket  string // virtual-hosted bucket, "" when none
	zone    string // Zonal hosts only
	region  string
	service string // SigV4 service the scope must name
}

// hostCache memoises parseHost; the set of hosts a test uses is small, so
// it is bounded only to stay safe against hostile input.
type hostCache struct {
	m sync.Map // string -> hostInfo
	n atomicCounter
}

const maxCachedHosts = 4096

func (c *hostCache) get(host string) hostInfo {
	if v, ok := c.m.Load(host); ok {
		return v.(hostInfo)
	}
	hi := parseHost(host)
	if c.n.add(1) <= maxCachedHosts {
		c.m.Store(host, hi)
	}
	return hi
}

// parseHost classifies a Host header value (port allowed). It accepts the
// fips and dualstack label variants of the S3 endpoint rules.
func parseHost(host string) hostInfo {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	var suffix string
	for _, s := range []string{".amazonaws.com.cn", ".amazonaws.com"} {
		if strings.HasSuffix(host, s) {
			suffix = s
			break
		}
	}
	if suffix == "" {
		return hostInfo{}
	}
	labels := strings.Split(strings.TrimSuffix(host, suffix), ".")
	for i, l := range labels {
		rest := labels[i+1:]
		if len(rest) > 0 && rest[0] == "dualstack" {
			rest = rest[1:]
		}
		if len(rest) != 1 || rest[0] == "" {
			continue
		}
		region := rest[0]
		bucket := strings.Join(labels[:i], ".")
		switch {
		case l == "s3express-control" || l == "s3express-fips-control":
			return hostInfo{kind: hostControl, bucket: bucket, region: region, service: "s3express"}
		case strings.HasPrefix(l, "s3express-"):
			zone := strings.TrimPrefix(strings.TrimPrefix(l, "s3express-"), "fips-")
			return hostInfo{kind: hostZonal, bucket: bucket, zone: zone, region: region, service: "s3express"}
		case l == "s3" || l == "s3-fips":
			return hostInfo{kind: hostGeneral, bucket: bucket, region: region, service: "s3"}
		}
	}
	return hostInfo{}
}

// isDirectoryBucket reports whether name is a directory bucket name
// (suffix --x-s3, protocol notes 1.1).
func isDirectoryBucket(name string) bool { return strings.HasSuffix(name, "--x-s3") }

// bucketZone returns the zone ID of a directory bucket name, parsed from the
// end as the SDK endpoint rules do (protocol notes 1.2), or "".
func bucketZone(name string) string {
	if !isDirectoryBucket(name) {
		return ""
	}
	base := strings.TrimSuffix(name, "--x-s3")
	i := strings.LastIndex(base, "--")
	if i < 0 {
		return ""
	}
	zone := base[i+2:]
	switch len(zone) {
	case 8, 9, 13, 14, 20:
		return zone
	}
	return ""
}

// validDirectoryBucketName applies the directory bucket naming rules of
// protocol notes 1.1.
func validDirectoryBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || bucketZone(name) == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	if name[0] == '-' {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	base := strings.TrimSuffix(name, "--x-s3")
	return !strings.HasSuffix(base, "-s3alias") && !strings.HasSuffix(base, "--ol-s3")
}
