package s3err

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

func TestFrom(t *testing.T) {
	mismatch := &signing.MismatchError{AccessKeyID: "AKID", StringToSign: "AWS4-HMAC-SHA256\nx", CanonicalRequest: "GET\n/", SignatureProvided: "abc"}
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		extraNames []string
	}{
		{"own error kept", ErrNoSuchBucket, 404, "NoSuchBucket", nil},
		{"wrapped sentinel", fmt.Errorf("verify: %w", signing.ErrInvalidAccessKeyID), 403, "InvalidAccessKeyId", nil},
		{"mismatch carries computed strings", fmt.Errorf("x: %w", mismatch), 403, "SignatureDoesNotMatch",
			[]string{"AWSAccessKeyId", "StringToSign", "CanonicalRequest", "SignatureProvided"}},
		{"unsigned headers", signing.ErrHeadersNotSigned, 403, "AccessDenied", nil},
		{"throttled", session.ErrThrottled, 503, "SlowDown", nil},
		{"upstream s3 error kept", &session.UpstreamError{Status: 403, Code: "AccessDenied", Message: "no"}, 403, "AccessDenied", nil},
		{"upstream transport error", &session.UpstreamError{Err: errors.New("dial")}, 503, "ServiceUnavailable", nil},
		{"unknown", errors.New("boom"), 500, "InternalError", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := From(tt.err)
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("From = %d %s, want %d %s", e.Status, e.Code, tt.status, tt.code)
			}
			var names []string
			for _, x := range e.Extra {
				names = append(names, x.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.extraNames, ",") {
				t.Fatalf("extra = %v, want %v", names, tt.extraNames)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	cause := errors.New("secret-internal-detail")
	tests := []struct {
		method   string
		wantBody bool
	}{{http.MethodGet, true}, {http.MethodHead, false}}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(tt.method, "/b/k", nil)
			err := &Error{Status: 403, Code: "AccessDenied", Message: "Access Denied", Resource: "/b/k", Err: cause,
				Extra: []Elem{{"StringToSign", "s<t>s"}}}
			Write(rec, r, err, "REQ1")
			if rec.Code != 403 || rec.Header().Get("Content-Type") != "application/xml" {
				t.Fatalf("status %d type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if !tt.wantBody {
				if rec.Body.Len() != 0 {
					t.Fatalf("HEAD got a body: %q", rec.Body.String())
				}
				return
			}
			var got struct {
				Code, Message, Resource, RequestId, StringToSign string
			}
			if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body does not parse: %v\n%s", err, rec.Body.String())
			}
			if got.Code != "AccessDenied" || got.RequestId != "REQ1" || got.Resource != "/b/k" || got.StringToSign != "s<t>s" {
				t.Fatalf("body = %+v", got)
			}
			if strings.Contains(rec.Body.String(), cause.Error()) {
				t.Fatal("the cause leaked into the body")
			}
		})
	}
}
