package route

import (
	"fmt"
	"testing"
)

// TestResolveCached: a name resolved again (from New's fixed targets or the
// cache) gets the same target as the first time, with a URL of its own.
func TestResolveCached(t *testing.T) {
	alias := Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}}}
	deny := alias
	deny.DenyUnlisted = true
	deny.Allow = []string{"ok--use1-az4--x-s3"}
	tests := []struct {
		name string
		opts Options
		in   string
	}{
		{"alias", alias, "logs"},
		{"alias target", alias, "logs--usw2-az1--x-s3"},
		{"directory bucket", alias, "b--apne1-az4--x-s3"},
		{"access point", alias, "ap--usw2-az1--xa-s3"},
		{"allowed under DenyUnlisted", deny, "ok--use1-az4--x-s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.opts)
			first, err := r.Resolve(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			firstURL := *first.URL
			first.URL.Host = "evil.example"
			for i := 0; i < 2; i++ {
				got, err := r.Resolve(tt.in)
				if err != nil {
					t.Fatal(err)
				}
				if got.URL == first.URL || *got.URL != firstURL {
					t.Fatalf("call %d: URL %v (%p), want %v, not %p", i+2, got.URL, got.URL, firstURL, first.URL)
				}
				got.URL, first.URL = nil, nil
				if got != first {
					t.Fatalf("call %d: got %+v, want %+v", i+2, got, first)
				}
				first.URL = &firstURL
			}
		})
	}
}

// TestResolveCacheBounded: names that fail are not cached, and names that
// resolve are cached up to about maxCached entries.
func TestResolveCacheBounded(t *testing.T) {
	r := mustNew(t, Options{Region: "us-west-2"})
	for _, bad := range []string{"nope", "Bad--usw2-az1--x-s3", "b--usw2-az1--x-s3.evil.com"} {
		if _, err := r.Resolve(bad); err == nil {
			t.Fatalf("Resolve(%q) succeeded", bad)
		}
	}
	if n := cachedLen(r); n != 0 {
		t.Fatalf("%d failed names cached, want 0", n)
	}
	for i := 0; i < 3*maxCached; i++ {
		name := fmt.Sprintf("b%d--usw2-az1--x-s3", i)
		got, err := r.Resolve(name)
		if err != nil || got.Bucket != name {
			t.Fatalf("Resolve(%q) = %+v, %v", name, got, err)
		}
		if i%100 != 0 && (i+1)%maxCached > 2 {
			continue // counting is linear: check around each wrap and now and then
		}
		if n := cachedLen(r); n > maxCached || n < 1 {
			t.Fatalf("after %d names: %d cached, want 1..%d", i+1, n, maxCached)
		}
	}
}

func cachedLen(r *Router) int {
	n := 0
	r.cached.Range(func(any, any) bool { n++; return true })
	return n
}

// BenchmarkResolve is the per-request routing cost of a directory bucket
// name and an alias.
func BenchmarkResolve(b *testing.B) {
	r, err := New(Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"data--usw2-az1--x-s3", "logs"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := r.Resolve(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
