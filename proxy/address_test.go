package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

func TestParseAddress(t *testing.T) {
	domains := []string{"s3.example.internal", "localhost"}
	tests := []struct {
		name, host, uri string
		bucket, key     string
		query           string
		vhost           bool
		wantErr         bool
	}{
		{name: "service", host: "proxy:8080", uri: "/", bucket: "", key: ""},
		{name: "bucket", host: "proxy", uri: "/logs", bucket: "logs"},
		{name: "bucket slash", host: "proxy", uri: "/logs/?list-type=2", bucket: "logs", query: "list-type=2"},
		{name: "simple key", host: "proxy", uri: "/logs/a/b.txt", bucket: "logs", key: "a/b.txt"},
		{name: "space", host: "proxy", uri: "/logs/a%20b", bucket: "logs", key: "a b"},
		{name: "plus is plus", host: "proxy", uri: "/logs/a+b", bucket: "logs", key: "a+b"},
		{name: "encoded slash", host: "proxy", uri: "/logs/a%2Fb", bucket: "logs", key: "a/b"},
		{name: "double slash", host: "proxy", uri: "/logs//a//b", bucket: "logs", key: "/a//b"},
		{name: "unicode", host: "proxy", uri: "/logs/%E2%82%AC/%C3%A9t%C3%A9", bucket: "logs", key: "€/été"},
		{name: "tilde", host: "proxy", uri: "/logs/~user", bucket: "logs", key: "~user"},
		{name: "trailing slash", host: "proxy", uri: "/logs/dir/", bucket: "logs", key: "dir/"},
		{name: "query kept raw", host: "proxy", uri: "/logs/k?uploadId=a%2Bb&partNumber=1", bucket: "logs", key: "k", query: "uploadId=a%2Bb&partNumber=1"},
		{name: "absolute form", host: "proxy", uri: "http://proxy:8080/logs/k%20x?x=1", bucket: "logs", key: "k x", query: "x=1"},
		{name: "vhost", host: "logs.s3.example.internal", uri: "/a%2Fb", bucket: "logs", key: "a/b", vhost: true},
		{name: "vhost port", host: "data--usw2-az1--x-s3.localhost:8080", uri: "/k", bucket: "data--usw2-az1--x-s3", key: "k", vhost: true},
		{name: "vhost upper", host: "Logs.S3.Example.Internal", uri: "/", bucket: "logs", vhost: true},
		{name: "domain itself is path style", host: "s3.example.internal", uri: "/logs/k", bucket: "logs", key: "k"},
		{name: "foreign host is path style", host: "evil.example.com", uri: "/logs/k", bucket: "logs", key: "k"},
		{name: "bad escape", host: "proxy", uri: "/logs/%zz", wantErr: true},
		{name: "bad escape in bucket", host: "proxy", uri: "/lo%g/k", wantErr: true},
		{name: "vhost bad escape", host: "logs.localhost", uri: "/%", wantErr: true},
		{name: "asterisk", host: "proxy", uri: "*", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Host: tt.host, RequestURI: tt.uri, URL: &url.URL{}}
			got, err := parseAddress(r, domains)
			if tt.wantErr {
				var e *s3err.Error
				if !errors.As(err, &e) || e.Code != "InvalidURI" {
					t.Fatalf("parseAddress(%q) error = %v, want InvalidURI", tt.uri, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAddress(%q): %v", tt.uri, err)
			}
			want := address{Bucket: tt.bucket, Key: tt.key, RawQuery: tt.query, VirtualHost: tt.vhost}
			want.Query, _ = url.ParseQuery(tt.query)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("parseAddress(%q, host %q) = %+v, want %+v", tt.uri, tt.host, got, want)
			}
		})
	}
}

func TestUpstreamURLRoundTrip(t *testing.T) {
	keys := []string{"a b", "a+b", "a/b", "/a//b", "€/été", "~user", "dir/", "x?y#z", "100%", ""}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			u := upstreamURL("http", "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com", key, nil)
			// What goes on the wire must decode back to the key, byte for byte.
			r := &http.Request{Host: u.Host, RequestURI: u.RequestURI(), URL: &url.URL{}}
			got, err := parseAddress(r, []string{"us-west-2.amazonaws.com"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != key {
				t.Fatalf("round trip of %q through %q gave %q", key, u.RequestURI(), got.Key)
			}
			if u.EscapedPath() != u.RawPath {
				t.Fatalf("EscapedPath %q != RawPath %q: Go would re-escape", u.EscapedPath(), u.RawPath)
			}
		})
	}
}
