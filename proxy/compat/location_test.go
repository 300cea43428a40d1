package compat

import (
	"encoding/xml"
	"net/http/httptest"
	"testing"
)

func TestGetBucketLocation(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-west-2", "us-west-2"},
		{"ap-northeast-1", "ap-northeast-1"},
		{"us-east-1", ""}, // S3's legacy spelling of us-east-1
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			rec := httptest.NewRecorder()
			GetBucketLocation(rec, httptest.NewRequest("GET", "/b?location", nil), tt.region)
			var got locationConstraint
			if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if rec.Code != 200 || got.Region != tt.want || got.XMLName.Space != "http://s3.amazonaws.com/doc/2006-03-01/" {
				t.Fatalf("got %d %+v, want 200 %q", rec.Code, got, tt.want)
			}
		})
	}
}
