package compat

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestListErrors(t *testing.T) {
	f := newFakeS3(t)
	f.keys[testBucket] = testKeys()
	srv := proxyFor(t, NewLister(ListerOptions{}), f)
	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
		code   string
		reqID  string // x-amz-request-id the client must see
	}{
		{"unknown marker", "/v1/" + testBucket + "?marker=k0100", nil, 400, "InvalidArgument", ""},
		{"malformed synthesized marker", "/v1/" + testBucket + "?marker=s3xp1.%21%21", nil, 400, "InvalidArgument", ""},
		{"marker with impossible skip", "/v1/" + testBucket + "?marker=" + cursor{Skip: 5000, PageSize: 10}.encode(), nil, 400, "InvalidArgument", ""},
		{"v2 foreign token", "/v2/" + testBucket + "?list-type=2&prefix=dir/fi&delimiter=/&continuation-token=abc", nil, 400, "InvalidArgument", ""},
		{"subresource", "/v1/" + testBucket + "?policy", nil, 501, "NotImplemented", ""},
		{"bad max-keys", "/v1/" + testBucket + "?max-keys=-1", nil, 400, "InvalidArgument", ""},
		{"no such bucket passes through", "/v1/nope--usw2-az1--x-s3", nil, 404, "NoSuchBucket", "upstream-req"},
		{"upstream rejects delimiter", "/v1/" + testBucket + "?delimiter=%2C", nil, 400, "InvalidArgument", "upstream-req"},
		{"forwarded header", "/v1/" + testBucket, map[string]string{"X-Amz-Expected-Bucket-Owner": "wrong"}, 403, "AccessDenied", "upstream-req"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Code string }
			if err := xml.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || e.Code != tt.code {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, e.Code, tt.status, tt.code)
			}
			if tt.reqID != "" && resp.Header.Get("X-Amz-Request-Id") != tt.reqID {
				t.Errorf("request id %q: upstream error not passed through", resp.Header.Get("X-Amz-Request-Id"))
			}
		})
	}
}

func TestListV1Shape(t *testing.T) {
	f := newFakeS3(t)
	f.keys[testBucket] = testKeys()
	srv := proxyFor(t, NewLister(ListerOptions{}), f)

	res := getList(t, srv.URL+"/v1/"+testBucket+"?prefix=sp+ace%2Bplus%2F&delimiter=%2F&encoding-type=url&max-keys=1")
	if res.Name != testBucket || res.Prefix != "sp+ace%2Bplus/" || res.Delimiter != "/" || res.EncodingType != "url" ||
		res.MaxKeys != 1 || res.Marker == nil || *res.Marker != "" || !res.IsTruncated ||
		res.NextMarker == nil || !strings.HasPrefix(*res.NextMarker, MarkerPrefix) || len(res.Contents) != 1 {
		t.Errorf("unexpected V1 page: %+v", res)
	}
	next := getList(t, srv.URL+"/v1/"+testBucket+"?prefix=sp+ace%2Bplus%2F&delimiter=%2F&encoding-type=url&max-keys=1&marker="+url.QueryEscape(*res.NextMarker))
	if next.Marker == nil || *next.Marker != *res.NextMarker || next.IsTruncated || next.NextMarker != nil || len(next.Contents) != 1 {
		t.Errorf("unexpected last page: %+v", next)
	}

	empty := getList(t, srv.URL+"/v1/"+testBucket+"?max-keys=0")
	if empty.IsTruncated || len(empty.Contents) != 0 || empty.MaxKeys != 0 {
		t.Errorf("max-keys=0: %+v", empty)
	}
	if n := f.requests.Load(); n != 2 {
		t.Errorf("upstream requests %d, want 2 (none for max-keys=0)", n)
	}
}

// TestListAbortMidStream: once the 200 is sent, an upstream failure must
// not produce a well-formed (silently incomplete) listing.
func TestListAbortMidStream(t *testing.T) {
	f := newFakeS3(t)
	f.keys[testBucket] = testKeys()
	f.failAt = 2
	srv := proxyFor(t, NewLister(ListerOptions{FilterPageSize: 10}), f)
	status, body, err := get(t, srv.URL+"/v1/"+testBucket+"?prefix=dir/fi&delimiter=/&max-keys=100")
	t.Logf("status %d err %v body tail %q", status, err, body[max(0, len(body)-60):])
	if err == nil {
		var res listResult
		if xml.Unmarshal(body, &res) == nil {
			t.Fatalf("got a complete listing (%d, %d entries) despite the upstream failure", status, len(res.Contents))
		}
	}
}

func TestListV2Passthrough(t *testing.T) {
	f := newFakeS3(t)
	f.keys[testBucket] = testKeys()
	srv := proxyFor(t, NewLister(ListerOptions{}), f)
	tests := []struct {
		name     string
		query    string
		upstream bool // token must be upstream's own
	}{
		{"directory prefix forwarded", "list-type=2&prefix=dir/&delimiter=/&max-keys=3", true},
		{"no delimiter forwarded", "list-type=2&prefix=di&max-keys=3", true},
		{"partial prefix emulated", "list-type=2&prefix=dir/f&delimiter=/&max-keys=3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := getList(t, srv.URL+"/v2/"+testBucket+"?"+tt.query)
			if !res.IsTruncated || res.NextContinuationToken == nil {
				t.Fatalf("want a truncated page: %+v", res)
			}
			if ours := strings.HasPrefix(*res.NextContinuationToken, MarkerPrefix); ours == tt.upstream {
				t.Errorf("token %q: upstream's own = %v, want %v", *res.NextContinuationToken, !ours, tt.upstream)
			}
		})
	}
}
