package e2e

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/compat"
)

// TestListingPageCap: a listing the proxy filters (prefix not ending in
// "/") in a directory where few keys match fetches at most
// Lister.MaxPages upstream pages per client request, counted at the
// emulator; each capped answer is a truncated page whose NextMarker or
// NextContinuationToken resumes exactly, so following them (by hand, and
// with minio-go's V1 and V2 listings) yields every match once. Without
// the cap the first request scanned the whole directory.
func TestListingPageCap(t *testing.T) {
	const pageSize, maxPages = 5, 2
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Lister = compat.ListerOptions{FilterPageSize: pageSize, MaxPages: maxPages}
	}})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	var want []string
	for i := range 40 {
		rw.put(t, aliasData, fmt.Sprintf("cap/other-%02d", i), []byte("x"))
		if i%10 == 3 {
			k := fmt.Sprintf("cap/match-%02d", i)
			rw.put(t, aliasData, k, []byte("x"))
			rw.put(t, aliasData, fmt.Sprintf("cap/match-dir-%02d/x", i), []byte("x"))
			want = append(want, k, fmt.Sprintf("cap/match-dir-%02d/", i))
		}
	}
	slices.Sort(want)
	// 48 entries in cap/, 10 upstream pages of 5.
	for _, v1 := range []bool{true, false} {
		t.Run(fmt.Sprintf("raw v1=%v", v1), func(t *testing.T) {
			q := url.Values{"prefix": {"cap/m"}, "delimiter": {"/"}}
			if !v1 {
				q.Set("list-type", "2")
			}
			var got []string
			requests := 0
			for ; requests < 100; requests++ {
				e.emu.ResetStats()
				res, _ := listPage(t, rw, aliasData, q)
				if n := e.emu.Stats().Requests["ListObjectsV2"]; n > maxPages {
					t.Fatalf("client request %d cost %d upstream pages, cap %d", requests, n, maxPages)
				}
				got = append(got, res.entries()...)
				if !res.IsTruncated {
					break
				}
				if v1 {
					q.Set("marker", res.NextMarker)
				} else {
					q.Set("continuation-token", res.NextContinuationToken)
				}
			}
			if requests+1 < 10/maxPages {
				t.Errorf("%d client requests for 10 upstream pages, cap %d", requests+1, maxPages)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	m := newMinioClient(t, e.srv.URL, rwKey, rwSecret)
	for _, v1 := range []bool{true, false} {
		t.Run(fmt.Sprintf("minio-go v1=%v", v1), func(t *testing.T) {
			var got []string
			for obj := range m.c.ListObjects(context.Background(), aliasData, minio.ListObjectsOptions{Prefix: "cap/m", UseV1: v1}) {
				if obj.Err != nil {
					t.Fatalf("minio-go list: %v", obj.Err)
				}
				got = append(got, obj.Key)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
