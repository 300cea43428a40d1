package compat

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

type bucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Owner   struct{ ID, DisplayName string }
	Buckets []struct {
		Name         string
		CreationDate string
	} `xml:"Buckets>Bucket"`
}

func TestListBuckets(t *testing.T) {
	f := newFakeS3(t)
	f.buckets["us-west-2"] = []dirBucket{
		{"logs--usw2-az1--x-s3", "2026-01-01T00:00:00.000Z"},
		{"data--usw2-az1--x-s3", "2026-02-01T00:00:00.000Z"},
		{"secret--usw2-az3--x-s3", "2026-03-01T00:00:00.000Z"},
		{"more--usw2-az3--x-s3", "2026-04-01T00:00:00.000Z"},
		{"last--usw2-az4--x-s3", "2026-05-01T00:00:00.000Z"},
	}
	f.buckets["us-east-1"] = []dirBucket{{"east--use1-az4--x-s3", "2026-06-01T00:00:00.000Z"}}
	aliases := []AliasBucket{{"logs", "logs--usw2-az1--x-s3"}, {"ghost", "gone--usw2-az1--x-s3"}, {"hidden", "secret--usw2-az3--x-s3"}}
	tests := []struct {
		name  string
		in    ListBucketsInput
		want  []string // name@date
		owner string
	}{
		{
			name: "two regions paged, aliases, all visible",
			in:   ListBucketsInput{Regions: []string{"us-west-2", "us-east-1", "us-west-2"}, Aliases: aliases},
			want: []string{"logs--usw2-az1--x-s3@2026-01-01T00:00:00.000Z", "data--usw2-az1--x-s3@2026-02-01T00:00:00.000Z",
				"secret--usw2-az3--x-s3@2026-03-01T00:00:00.000Z", "more--usw2-az3--x-s3@2026-04-01T00:00:00.000Z",
				"last--usw2-az4--x-s3@2026-05-01T00:00:00.000Z", "east--use1-az4--x-s3@2026-06-01T00:00:00.000Z",
				"logs@2026-01-01T00:00:00.000Z", "ghost@" + epoch, "hidden@2026-03-01T00:00:00.000Z"},
			owner: "s3xproxy",
		},
		{
			name: "filtered by visibility",
			in: ListBucketsInput{Regions: []string{"us-west-2"}, Aliases: aliases, OwnerID: "me",
				Visible: func(n string) bool { return !strings.Contains(n, "secret") && n != "hidden" && n != "ghost" }},
			want: []string{"logs--usw2-az1--x-s3@2026-01-01T00:00:00.000Z", "data--usw2-az1--x-s3@2026-02-01T00:00:00.000Z",
				"more--usw2-az3--x-s3@2026-04-01T00:00:00.000Z", "last--usw2-az4--x-s3@2026-05-01T00:00:00.000Z",
				"logs@2026-01-01T00:00:00.000Z"},
			owner: "me",
		},
		{
			name:  "no regions, aliases only",
			in:    ListBucketsInput{Aliases: aliases[:1]},
			want:  []string{"logs@" + epoch},
			owner: "s3xproxy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := ListBuckets(w, r, f, tt.in); err != nil {
					s3err.Write(w, r, err, "req")
				}
			}))
			defer srv.Close()
			status, body, err := get(t, srv.URL+"/")
			if err != nil || status != 200 {
				t.Fatalf("%d %v %s", status, err, body)
			}
			var res bucketsResult
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range res.Buckets {
				got = append(got, b.Name+"@"+b.CreationDate)
			}
			if !slices.Equal(got, tt.want) || res.Owner.ID != tt.owner {
				t.Errorf("got %v owner %q\nwant %v owner %q", got, res.Owner.ID, tt.want, tt.owner)
			}
		})
	}
}

func TestListBucketsUpstreamError(t *testing.T) {
	f := newFakeS3(t)
	f.failAt = 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ListBuckets(w, r, f, ListBucketsInput{Regions: []string{"us-west-2"}}); err != nil {
			s3err.Write(w, r, err, "req")
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	_ = xml.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 500 || e.Code != "InternalError" || resp.Header.Get("X-Amz-Request-Id") != "upstream-req" {
		t.Errorf("got %d %s: upstream error not passed through", resp.StatusCode, e.Code)
	}
}

// downUpstream fails every call at transport level.
type downUpstream struct{}

var errDown = errors.New("dial tcp: connection refused")

func (downUpstream) Bucket(context.Context, BucketRequest) (*http.Response, error) {
	return nil, errDown
}

func (downUpstream) Control(context.Context, ControlRequest) (*http.Response, error) {
	return nil, errDown
}

func TestHandlersTransportError(t *testing.T) {
	tests := []struct {
		name string
		call func(w http.ResponseWriter, r *http.Request) error
	}{
		{"ListBuckets", func(w http.ResponseWriter, r *http.Request) error {
			return ListBuckets(w, r, downUpstream{}, ListBucketsInput{Regions: []string{"us-west-2"}})
		}},
		{"ListObjectsV1", func(w http.ResponseWriter, r *http.Request) error {
			return NewLister(ListerOptions{}).ListObjectsV1(w, r, downUpstream{}, testBucket, url.Values{})
		}},
		{"ListObjectsV2", func(w http.ResponseWriter, r *http.Request) error {
			return NewLister(ListerOptions{}).ListObjectsV2(w, r, downUpstream{}, testBucket, url.Values{"prefix": {"a"}, "delimiter": {"/"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := tt.call(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if !errors.Is(err, errDown) {
				t.Errorf("error %v, want the transport error wrapped", err)
			}
			if rec.Body.Len() != 0 || rec.Code != 200 || len(rec.Header()) != 0 {
				t.Errorf("something was written before the error: %d %v %q", rec.Code, rec.Header(), rec.Body)
			}
		})
	}
}
