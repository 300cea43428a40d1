package localsession

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

func TestWriteCreateSessionResultShape(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteCreateSessionResult(rec, Credentials{
		AccessKeyID: "S3XLAAAA", SecretAccessKey: "sec<&>", SessionToken: "tok",
		Expiration: time.Date(2023, 6, 26, 17, 33, 30, 0, time.FixedZone("x", 3600)),
	})
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<CreateSessionResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Credentials>` +
		`<SessionToken>tok</SessionToken><SecretAccessKey>sec&lt;&amp;&gt;</SecretAccessKey>` +
		`<AccessKeyId>S3XLAAAA</AccessKeyId><Expiration>2023-06-26T16:33:30Z</Expiration>` +
		`</Credentials></CreateSessionResult>`
	if got := rec.Body.String(); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/xml" {
		t.Errorf("status %d content-type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestServeCreateSessionSDK lets aws-sdk-go-v2's own CreateSession
// deserializer parse what the proxy writes.
func TestServeCreateSessionSDK(t *testing.T) {
	const bucket = "data--usw2-az1--x-s3"
	store := newIssuer(t, testIDs())
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path + "?" + r.URL.RawQuery
		err := store.ServeCreateSession(w, r, Request{AccessKeyID: "LEGACYKEY1",
			Bucket: bucket, CanWrite: false, Now: t0})
		if err != nil {
			s3err.Write(w, r, err, "req")
		}
	}))
	defer srv.Close()

	client := s3.New(s3.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("LEGACYKEY1", "secret", ""),
	})
	out, err := client.CreateSession(context.Background(), &s3.CreateSessionInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gotPath, "/"+bucket) || !strings.Contains(gotPath, "session") {
		t.Errorf("request %q", gotPath)
	}
	c := out.Credentials
	k, err := store.LookupTokenKey(aws.ToString(c.AccessKeyId), aws.ToString(c.SessionToken))
	if err != nil {
		t.Fatalf("SDK-parsed credentials do not open: %v", err)
	}
	if k.SecretAccessKey != aws.ToString(c.SecretAccessKey) || !k.Expires.Equal(aws.ToTime(c.Expiration)) {
		t.Errorf("SDK parsed %+v, issuer derives %+v", c, k)
	}
	if s := k.Principal.(*Session); s.Mode != ReadOnly || s.Bucket != bucket || s.Principal != "alice" {
		t.Errorf("session %+v: want ReadOnly on %s (identity cannot write)", s, bucket)
	}
}

func TestServeCreateSessionErrors(t *testing.T) {
	tests := []struct {
		name   string
		req    Request
		header map[string]string
		status int
		code   string
	}{
		{"session-signed", Request{AccessKeyID: "LEGACYKEY1", FromSession: true, CanWrite: true}, nil, 400, "InvalidRequest"},
		{"token header", Request{AccessKeyID: "LEGACYKEY1", CanWrite: true}, map[string]string{"x-amz-s3session-token": "t"}, 400, "InvalidRequest"},
		{"anonymous", Request{CanWrite: true}, nil, 403, "AccessDenied"},
		{"unknown identity", Request{AccessKeyID: "anonymous", CanWrite: true}, nil, 403, "AccessDenied"},
		{"readwrite denied", Request{AccessKeyID: "LEGACYKEY1"}, map[string]string{HeaderSessionMode: "ReadWrite"}, 403, "AccessDenied"},
		{"bad mode", Request{AccessKeyID: "LEGACYKEY1", CanWrite: true}, map[string]string{HeaderSessionMode: "Root"}, 400, "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newIssuer(t, testIDs())
			r := httptest.NewRequest(http.MethodGet, "/b--usw2-az1--x-s3?session", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			tt.req.Bucket, tt.req.Now = "b--usw2-az1--x-s3", t0
			rec := httptest.NewRecorder()
			err := store.ServeCreateSession(rec, r, tt.req)
			if err == nil {
				t.Fatal("want error")
			}
			if rec.Body.Len() != 0 {
				t.Fatal("wrote a body on error")
			}
			s3err.Write(rec, r, err, "req")
			var body struct{ Code string }
			b, _ := io.ReadAll(rec.Body)
			if xml.Unmarshal(b, &body); rec.Code != tt.status || body.Code != tt.code {
				t.Errorf("got %d %s, want %d %s", rec.Code, body.Code, tt.status, tt.code)
			}
		})
	}
}
