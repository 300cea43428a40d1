package signing

import (
	"errors"
	"net/url"
	"strings"
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

// TestEncodeQuery: the outbound query is the canonical one but for a bare
// name where the value is empty.
func TestEncodeQuery(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"bare", "uploads", "uploads"},
		{"empty value written bare", "prefix=", "prefix"},
		{"sorted", "prefix=a%2Fb&list-type=2&delimiter=%2F", "delimiter=%2F&list-type=2&prefix=a%2Fb"},
		{"space and plus", "prefix=a+b%2Bc", "prefix=a%20b%2Bc"},
		{"multi values sorted", "a=2&a=1", "a=1&a=2"},
		{"unicode", "prefix=%C3%A9", "prefix=%C3%A9"},
		{"reserved", "k=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D~", "k=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D~"},
		{"sorted by encoded name", "%C3%A9=1&~=2", "%C3%A9=1&~=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := EncodeQuery(q)
			if got != tt.want {
				t.Fatalf("EncodeQuery(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// What signing canonicalizes from the wire is the same list,
			// an empty value given its "=".
			ps, err := canonicalQueryParams(nil, got, nil)
			if err != nil {
				t.Fatal(err)
			}
			var wantCanon []string
			for p := range strings.SplitSeq(got, "&") {
				if p != "" && !strings.Contains(p, "=") {
					p += "="
				}
				if p != "" {
					wantCanon = append(wantCanon, p)
				}
			}
			if c := string(appendCanonicalQuery(nil, ps)); c != strings.Join(wantCanon, "&") {
				t.Errorf("canonical form of %q = %q, want %q", got, c, strings.Join(wantCanon, "&"))
			}
		})
	}
}
