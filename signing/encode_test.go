package signing

import (
	"errors"
	"net/url"
	"testing"
)

func TestEncodePath(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unreserved kept", "/bucket/AZaz09-._~", "/bucket/AZaz09-._~"},
		{"space", "/b/a b", "/b/a%20b"},
		{"plus is literal", "/b/a+b", "/b/a%2Bb"},
		{"percent", "/b/100%", "/b/100%25"},
		{"double slash and trailing", "//b//k/", "//b//k/"},
		{"unicode", "/b/é", "/b/%C3%A9"},
		{"reserved", "/b/$&=?#*!'()[]:@,;", "/b/%24%26%3D%3F%23%2A%21%27%28%29%5B%5D%3A%40%2C%3B"},
		{"control", "/b/\x01\x7f", "/b/%01%7F"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodePath(tt.in); got != tt.want {
				t.Errorf("EncodePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		name, raw, want string
		err             error
	}{
		{"canonical", "/b/a%20b", "/b/a%20b", nil},
		{"lower hex", "/b/a%2bb", "/b/a%2Bb", nil},
		{"encoded unreserved", "/b/%7Ea%41", "/b/~aA", nil},
		{"encoded slash decodes", "/b/a%2Fb", "/b/a/b", nil},
		{"raw plus", "/b/a+b", "/b/a%2Bb", nil},
		{"raw space", "/b/a b", "/b/a%20b", nil},
		{"empty", "", "/", nil},
		{"bad escape", "/b/%zz", "", errBadEscape},
		{"truncated escape", "/b/%2", "", errBadEscape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonicalPath(tt.raw)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("canonicalPath(%q) = %q, %v; want %q, %v", tt.raw, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"sorted", "prefix=J&max-keys=2", "max-keys=2&prefix=J"},
		{"empty value", "uploads", "uploads="},
		{"plus is space", "a=b+c", "a=b%20c"},
		{"re-encoded", "a=%7e%2f&b=x/y", "a=~%2F&b=x%2Fy"},
		{"duplicates by value", "a=2&a=1", "a=1&a=2"},
		{"empty components", "&&a=1&", "a=1"},
		{"none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := canonicalQueryParams(nil, tt.raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(appendCanonicalQuery(nil, ps)); got != tt.want {
				t.Errorf("query %q: got %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
	if got, err := CanonicalQuery("prefix=a+b&list-type=2&delimiter=/"); err != nil || got != "delimiter=%2F&list-type=2&prefix=a%20b" {
		t.Errorf("CanonicalQuery = %q, %v", got, err)
	}
	if _, err := canonicalQueryParams(nil, "a=%g1", nil); !errors.Is(err, errBadEscape) {
		t.Errorf("bad escape: err = %v", err)
	}
}

func TestRawPathMatches(t *testing.T) {
	for _, p := range []string{"/a b", "/a+b", "/é/~", "/%", "/a/b"} {
		raw := EncodePath(p)
		u := &url.URL{Path: p, RawPath: raw}
		if !rawPathMatches(raw, p) || uriPath(u) != u.EscapedPath() {
			t.Errorf("%q: rawPathMatches false or uriPath %q != %q", p, uriPath(u), u.EscapedPath())
		}
	}
	if rawPathMatches("/a%20b", "/a+b") {
		t.Error("mismatching RawPath accepted")
	}
}
