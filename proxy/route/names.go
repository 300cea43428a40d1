package route

import (
	"net/netip"
	"strings"
)

// Directory bucket and access point suffixes (protocol notes §1.1).
const (
	suffixBucket      = "--x-s3"
	suffixAccessPoint = "--xa-s3"
)

// zoneLengths are the zone id lengths the SDK endpoint rules accept
// (protocol notes §1.2: reverse substrings [6,14), [6,15), [6,19), [6,20),
// [6,26) of the name).
var zoneLengths = map[int]bool{8: true, 9: true, 13: true, 14: true, 20: true}

// forbiddenPrefixes are reserved by S3 for every bucket name
// (directory-bucket-naming-rules; "sthree-configurator" is covered by
// "sthree-").
var forbiddenPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}

// forbiddenSuffixes are reserved for general purpose names; the directory
// suffixes are in the list so that an alias can never look like a real
// directory bucket.
var forbiddenSuffixes = []string{"-s3alias", "--ol-s3", suffixBucket, suffixAccessPoint}

// isLowerAlnum reports whether c is [a-z0-9].
func isLowerAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// isLabelish reports whether s is non-empty, only [a-z0-9-] and begins and
// ends with [a-z0-9].
func isLabelish(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// hasAnyPrefix reports whether s starts with one of ps.
func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// hasAnySuffix reports whether s ends with one of ps.
func hasAnySuffix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

// parseDirectory splits a directory bucket (or access point) name into its
// zone id, reporting ok only when the whole name satisfies the directory
// bucket naming rules (protocol notes §1.1) and the zone id has one of the
// lengths SDKs accept (§1.2). The zone id is the text between the last "--"
// and the suffix, so a base name may itself contain "--".
func parseDirectory(name string) (zone string, ok bool) {
	if len(name) < 3 || len(name) > 63 || !isLabelish(name) {
		return "", false
	}
	if hasAnyPrefix(name, forbiddenPrefixes) {
		return "", false
	}
	var rest string
	switch {
	case strings.HasSuffix(name, suffixBucket):
		rest = name[:len(name)-len(suffixBucket)]
	case strings.HasSuffix(name, suffixAccessPoint):
		rest = name[:len(name)-len(suffixAccessPoint)]
	default:
		return "", false
	}
	i := strings.LastIndex(rest, "--")
	if i < 1 { // no zone separator, or an empty base name
		return "", false
	}
	zone = rest[i+2:]
	if !zoneLengths[len(zone)] || !isLabelish(zone) {
		return "", false
	}
	return zone, true
}

// IsDirectoryBucket reports whether name is a valid directory bucket or
// directory access point name (base--zone--x-s3 or base--zone--xa-s3) with a
// zone id the SDKs accept.
func IsDirectoryBucket(name string) bool {
	_, ok := parseDirectory(name)
	return ok
}

// validGeneralName reports whether name satisfies the general purpose bucket
// naming rules (3–63 chars of [a-z0-9.-], begins and ends with a letter or
// digit, no "..", ".-" or "-.", not an IPv4 address, no reserved prefix or
// suffix) and does not look like a directory bucket. It is the rule for
// alias names.
func validGeneralName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return false
	}
	return !hasAnyPrefix(name, forbiddenPrefixes) && !hasAnySuffix(name, forbiddenSuffixes)
}

// validDNSName reports whether s is a lowercase DNS name of labels made of
// [a-z0-9-], each beginning and ending with a letter or digit (used for
// regions and the DNS suffix).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) > 63 || !isLabelish(label) {
			return false
		}
	}
	return true
}

// validRegion reports whether s can be a region code: one DNS label.
func validRegion(s string) bool {
	return len(s) <= 63 && isLabelish(s)
}
