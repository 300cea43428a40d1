package proxy

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// errInvalidURI is the S3 answer to a request URI that cannot be decoded.
var errInvalidURI = s3err.New(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")

// address is where a request points: the bucket name as the client wrote
// it (an alias or a real name, "" for the service) and the decoded object
// key ("" for bucket-level requests), plus the query string, raw and
// parsed.
type address struct {
	Bucket   string
	Key      string
	RawQuery string
	// Query is RawQuery parsed.
	Query url.Values
	// VirtualHost says the bucket came from the Host header.
	VirtualHost bool
}

// parseAddress extracts the bucket and key of r from its raw request URI
// (never Go's decoded URL.Path), so the key round-trips byte for byte:
// percent-escapes are decoded exactly once, '+' stays a plus, "//" and a
// trailing '/' are kept. domains are the virtual-host domains, lower case;
// a Host of "<bucket>.<domain>" (any port) addresses that bucket, a Host
// equal to a domain or anything else means path-style addressing.
func parseAddress(r *http.Request, domains []string) (address, error) {
	rawPath, rawQuery := signing.SplitRequestURI(r)
	if rawPath == "" || rawPath[0] != '/' {
		return address{}, errInvalidURI
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return address{}, s3err.Wrap(err, errInvalidURI.Status, errInvalidURI.Code, errInvalidURI.Message)
	}
	a := address{RawQuery: rawQuery, Query: q}
	if bucket, ok := virtualHostBucket(r.Host, domains); ok {
		key, err := url.PathUnescape(rawPath[1:])
		if err != nil {
			return address{}, s3err.Wrap(err, errInvalidURI.Status, errInvalidURI.Code, errInvalidURI.Message)
		}
		a.Bucket, a.Key, a.VirtualHost = bucket, key, true
		return a, nil
	}
	rest := rawPath[1:]
	rawBucket, rawKey, _ := strings.Cut(rest, "/")
	bucket, err := url.PathUnescape(rawBucket)
	if err != nil {
		return address{}, s3err.Wrap(err, errInvalidURI.Status, errInvalidURI.Code, errInvalidURI.Message)
	}
	key, err := url.PathUnescape(rawKey)
	if err != nil {
		return address{}, s3err.Wrap(err, errInvalidURI.Status, errInvalidURI.Code, errInvalidURI.Message)
	}
	a.Bucket, a.Key = bucket, key
	return a, nil
}

// virtualHostBucket returns the bucket of a virtual-host style Host header.
func virtualHostBucket(host string, domains []string) (string, bool) {
	if len(domains) == 0 || host == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range domains {
		if strings.HasSuffix(host, "."+d) {
			bucket := host[:len(host)-len(d)-1]
			if bucket != "" {
				return bucket, true
			}
		}
	}
	return "", false
}
