package compat

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

// TestListPageCap: a filtered listing that matches few keys of a large
// directory fetches at most MaxPages upstream pages per client request and
// answers a truncated page (possibly empty) whose NextMarker or
// NextContinuationToken resumes exactly where the scan stopped: following
// them yields every match once. Without the cap one request scanned the
// whole directory.
func TestListPageCap(t *testing.T) {
	var keys []string
	for i := range 400 {
		keys = append(keys, fmt.Sprintf("dir/other-%03d", i))
		if i%61 == 7 {
			keys = append(keys, fmt.Sprintf("dir/match-%03d", i), fmt.Sprintf("dir/match-sub%03d/x", i))
		}
	}
	const pageSize, maxPages = 10, 3
	tests := []struct {
		name    string
		v1      bool
		maxKeys string
		next    func(listResult) string
	}{
		{"v1 NextMarker", true, "", byNextMarker},
		{"v1 NextMarker small max-keys", true, "2", byNextMarker},
		{"v2 continuation", false, "", byNextToken},
		{"v2 continuation small max-keys", false, "3", byNextToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t)
			f.keys[testBucket] = keys
			srv := proxyFor(t, NewLister(ListerOptions{FilterPageSize: pageSize, MaxPages: maxPages}), f)
			q := url.Values{"prefix": {"dir/mat"}, "delimiter": {"/"}}
			path := "/v1/"
			if !tt.v1 {
				q.Set("list-type", "2")
				path = "/v2/"
			}
			if tt.maxKeys != "" {
				q.Set("max-keys", tt.maxKeys)
			}
			var got []string
			requests := 0
			for ; requests < 200; requests++ {
				before := f.requests.Load()
				res := getList(t, srv.URL+path+testBucket+"?"+q.Encode())
				if n := f.requests.Load() - before; n > maxPages {
					t.Fatalf("request %d fetched %d upstream pages, cap %d", requests, n, maxPages)
				}
				for _, c := range res.Contents {
					got = append(got, c.Key)
				}
				for _, p := range res.CommonPrefixes {
					got = append(got, p.Prefix)
				}
				if !res.IsTruncated {
					break
				}
				if tt.v1 {
					q.Set("marker", tt.next(res))
				} else {
					q.Set("continuation-token", tt.next(res))
				}
			}
			t.Logf("%d client requests, %d upstream pages, %d entries", requests+1, f.requests.Load(), len(got))
			want := expected(keys, "dir/mat", "/")
			sorted := slices.Sorted(slices.Values(got))
			if !slices.Equal(sorted, want) {
				t.Fatalf("got %d entries %v, want %d: %v", len(got), diff(sorted, want), len(want), want)
			}
			// 42 upstream pages of 10: the cap must have split the listing.
			if requests+1 < 42/maxPages {
				t.Errorf("%d client requests for 42 upstream pages with a cap of %d", requests+1, maxPages)
			}
		})
	}
}
