package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// TestCheckSigV2Scope: SigV2 requests whose query holds an
// operation-selecting parameter SigV2 does not sign, and SigV2
// CreateSession, are 403 AccessDenied asking for SigV4; signed selectors,
// ordinary parameters and SigV4 requests pass.
func TestCheckSigV2Scope(t *testing.T) {
	tests := []struct {
		auth                       signing.AuthType
		method, bucket, key, query string
		refused                    bool
	}{
		{signing.AuthSigV2Header, "GET", "b", "", "session", true},
		{signing.AuthSigV2Query, "GET", "b", "", "session=", true},
		{signing.AuthSigV2Header, "GET", "b", "", "list-type=2", true},
		{signing.AuthSigV2Header, "GET", "b", "", "list-type=1", true},
		{signing.AuthSigV2Header, "GET", "b", "k", "uploadId=u&attributes", true}, // ListParts wins, attributes still unsigned
		{signing.AuthSigV2Header, "PUT", "b", "k", "renameObject", true},
		{signing.AuthSigV2Header, "GET", "b", "", "metadataTable", true},
		{signing.AuthSigV2Header, "GET", "b", "", "ownershipControls", true},
		{signing.AuthSigV2Header, "GET", "", "", "session", true},
		{signing.AuthSigV2Header, "GET", "b", "", "prefix=a&max-keys=2&marker=m", false},
		{signing.AuthSigV2Header, "GET", "b", "", "uploads", false},
		{signing.AuthSigV2Header, "POST", "b", "k", "uploads", false},
		{signing.AuthSigV2Query, "PUT", "b", "k", "partNumber=1&uploadId=u", false},
		{signing.AuthSigV2Header, "POST", "b", "", "delete", false},
		{signing.AuthSigV2Header, "GET", "b", "", "location", false},
		{signing.AuthSigV2Header, "GET", "b", "k", "response-content-type=a", false},
		{signing.AuthSigV4Header, "GET", "b", "", "session", false},
		{signing.AuthSigV4Query, "GET", "b", "", "list-type=2", false},
		{signing.AuthAnonymous, "GET", "b", "k", "attributes", false},
	}
	for _, tt := range tests {
		t.Run(tt.auth.String()+" "+tt.method+" "+tt.bucket+"/"+tt.key+"?"+tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			o := Classify(ClassifyInput{Method: tt.method, Bucket: tt.bucket, Key: tt.key, Query: q, Header: http.Header{}})
			err = checkSigV2Scope(tt.auth, o, q)
			if !tt.refused {
				if err != nil {
					t.Fatalf("%s refused: %v", o.Name, err)
				}
				return
			}
			var e *s3err.Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden || e.Code != "AccessDenied" {
				t.Fatalf("%s: err = %v, want 403 AccessDenied", o.Name, err)
			}
		})
	}
}

// TestOperationTableSigV2: the operation table's parameters are what the
// SigV2 check consults; those SigV2 never signed are among them, and
// every other selector is on the SigV2 sub-resource list or refused.
func TestOperationTableSigV2(t *testing.T) {
	for _, name := range []string{"session", "list-type", "attributes", "renameObject", "uploads", "uploadId", "partNumber", "delete", "acl", "tagging"} {
		if !selectsOperation(name) {
			t.Errorf("selectsOperation(%q) = false", name)
		}
	}
	for _, name := range []string{"prefix", "marker", "max-keys", "delimiter", "continuation-token", "versionId", "response-content-type", "x-id"} {
		if selectsOperation(name) {
			t.Errorf("selectsOperation(%q) = true", name)
		}
	}
	var unsigned []string
	for name := range selectorParams {
		if !signing.SignedByV2(name) {
			unsigned = append(unsigned, name)
		}
	}
	t.Logf("operation-selecting parameters SigV2 does not sign: %v", unsigned)
	for _, name := range []string{"session", "list-type", "attributes", "renameObject"} {
		q := url.Values{name: {""}}
		if err := checkSigV2Scope(signing.AuthSigV2Header, Operation{Name: "X"}, q); err == nil {
			t.Errorf("?%s passed for SigV2", name)
		}
	}
}

// TestCopySourceCheckedBeforePayload: the copy source is authorized with
// the rest of the request (admit), before the payload checks, so a
// CopyObject whose source the identity may not read is 403 AccessDenied
// even when it also carries a malformed Content-MD5.
func TestCopySourceCheckedBeforePayload(t *testing.T) {
	up := &fakeUpstream{}
	_, srv := newTestProxy(t, up, func(o *Options) {
		o.Credentials[0].Buckets = []string{"data"}
	})
	req := newReq(t, http.MethodPut, srv.URL+"/data/dst", nil)
	req.Header.Set("X-Amz-Copy-Source", "/other--usw2-az1--x-s3/src")
	req.Header.Set("Content-Md5", "not-base64")
	resp, err := http.DefaultClient.Do(sign(t, req, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<Code>AccessDenied</Code>") {
		t.Fatalf("got %d %s, want 403 AccessDenied", resp.StatusCode, b)
	}
	if n := len(up.seen()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
