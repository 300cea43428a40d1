package proxy

import (
	"net/url"
	"testing"
)

// TestNormalizeListQuery: empty listing parameters that S3 treats as
// absent are dropped, per operation; everything else is left as sent.
func TestNormalizeListQuery(t *testing.T) {
	tests := []struct {
		name, op, in, want string
	}{
		{"minio-go recursive V2", "ListObjectsV2", "list-type=2&delimiter=&prefix=&encoding-type=url&fetch-owner=true", "encoding-type=url&fetch-owner=true&list-type=2"},
		{"V2 start-after empty", "ListObjectsV2", "list-type=2&start-after=", "list-type=2"},
		{"V2 delimiter kept", "ListObjectsV2", "list-type=2&delimiter=%2F&prefix=a%2F", "delimiter=%2F&list-type=2&prefix=a%2F"},
		{"V2 bare names", "ListObjectsV2", "list-type=2&delimiter&prefix", "list-type=2"},
		{"V2 empty continuation-token kept", "ListObjectsV2", "list-type=2&continuation-token=", "continuation-token=&list-type=2"},
		{"V2 empty max-keys kept", "ListObjectsV2", "list-type=2&max-keys=", "list-type=2&max-keys="},
		{"V2 empty encoding-type kept", "ListObjectsV2", "list-type=2&encoding-type=", "encoding-type=&list-type=2"},
		{"V2 marker is not V2's", "ListObjectsV2", "list-type=2&marker=", "list-type=2&marker="},
		{"V1 aws-sdk-go v1", "ListObjects", "delimiter=%2F&marker=&max-keys=1000&prefix=dir%2F", "delimiter=%2F&max-keys=1000&prefix=dir%2F"},
		{"V1 all empty", "ListObjects", "delimiter=&marker=&prefix=", ""},
		{"V1 start-after is not V1's", "ListObjects", "start-after=", "start-after="},
		{"duplicate, one non-empty, kept", "ListObjectsV2", "list-type=2&delimiter=&delimiter=%2F", "delimiter=&delimiter=%2F&list-type=2"},
		{"uploads", "ListMultipartUploads", "uploads&delimiter=&prefix=&key-marker=", "key-marker=&uploads="},
		{"other operation untouched", "GetObject", "delimiter=&prefix=", "delimiter=&prefix="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			normalizeListQuery(tt.op, q)
			if got := q.Encode(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
