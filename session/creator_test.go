package session

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3xproxy/s3xproxy/signing"
)

const testBucket = "b--usw2-az1--x-s3"

var fixedNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// dialTo returns a client that dials addr whatever the URL's host, as the
// proxy's dial_address does.
func dialTo(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func testCreator(addr string, iam aws.Credentials) *HTTPCreator {
	return &HTTPCreator{
		Resolve: func(bucket string) (Endpoint, error) {
			return Endpoint{URL: &url.URL{Scheme: "http", Host: bucket + ".s3express-usw2-az1.us-west-2.amazonaws.com"}, Region: "us-west-2"}, nil
		},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return iam, nil }),
		Signer:      signing.NewSigner(),
		Client:      dialTo(addr),
		Now:         func() time.Time { return fixedNow },
	}
}

// recorded is what the fake server saw.
type recorded struct {
	mu  sync.Mutex
	req *http.Request // guarded by mu
}

func (r *recorded) get() *http.Request { r.mu.Lock(); defer r.mu.Unlock(); return r.req }

func fakeServer(t *testing.T, status int, body string) (*httptest.Server, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.req = r.Clone(context.Background())
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("Date", fixedNow.Format(http.TimeFormat)) // S3's clock agrees with ours
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

const okBody = `<?xml version="1.0" encoding="UTF-8"?>
<CreateSessionResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Credentials>
<SessionToken>TOKEN</SessionToken><SecretAccessKey>SSECRET</SecretAccessKey>
<AccessKeyId>SAKID</AccessKeyId><Expiration>2026-11-27T12:05:00.123Z</Expiration>
</Credentials></CreateSessionResult>`

func TestHTTPCreatorRequest(t *testing.T) {
	tests := []struct {
		name     string
		mode     Mode
		iamToken string
		wantMode string
	}{
		{"read write, long-term keys", ReadWrite, "", "ReadWrite"},
		{"read only, temporary keys", ReadOnly, "STS-TOKEN", "ReadOnly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := fakeServer(t, 200, okBody)
			h := testCreator(srv.Listener.Addr().String(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: tt.iamToken})
			creds, err := h.CreateSession(t.Context(), testBucket, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			want := Credentials{AccessKeyID: "SAKID", SecretAccessKey: "SSECRET", SessionToken: "TOKEN",
				Expiration: time.Date(2026, 11, 27, 12, 5, 0, 123e6, time.UTC)}
			if !creds.Expiration.Equal(want.Expiration) || creds.AccessKeyID != want.AccessKeyID ||
				creds.SecretAccessKey != want.SecretAccessKey || creds.SessionToken != want.SessionToken {
				t.Errorf("creds = %+v, want %+v", creds, want)
			}
			r := rec.get()
			if r.Method != http.MethodGet || r.URL.Path != "/" || !r.URL.Query().Has("session") || len(r.URL.Query()) != 1 {
				t.Errorf("request %s %s, want GET /?session", r.Method, r.URL)
			}
			if r.Host != testBucket+".s3express-usw2-az1.us-west-2.amazonaws.com" {
				t.Errorf("Host = %q", r.Host)
			}
			if got := r.Header.Get("X-Amz-Create-Session-Mode"); got != tt.wantMode {
				t.Errorf("mode header = %q, want %q", got, tt.wantMode)
			}
			auth := r.Header.Get("Authorization")
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-west-2/s3express/aws4_request") {
				t.Errorf("Authorization = %q, want IAM key scoped to s3express", auth)
			}
			if !strings.Contains(auth, "x-amz-create-session-mode") {
				t.Errorf("mode header not signed: %q", auth)
			}
			if r.Header.Get("X-Amz-S3session-Token") != "" {
				t.Error("CreateSession carries x-amz-s3session-token")
			}
			if got := r.Header.Get("X-Amz-Security-Token"); got != tt.iamToken {
				t.Errorf("X-Amz-Security-Token = %q, want %q", got, tt.iamToken)
			}
			if r.Header.Get("X-Amz-Date") != "20261127T120000Z" {
				t.Errorf("X-Amz-Date = %q, want the injected time", r.Header.Get("X-Amz-Date"))
			}
		})
	}
}

func TestHTTPCreatorResponses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantExp    time.Time
		wantStatus int // of the UpstreamError; 0 with wantErr false means success
		wantCode   string
		wantMsg    string
		wantErr    bool
	}{
		{"no namespace, other order, second precision", 200,
			`<CreateSessionResult><Credentials><AccessKeyId>A</AccessKeyId><Expiration>2026-11-27T12:05:00Z</Expiration><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken></Credentials></CreateSessionResult>`,
			time.Date(2026, 11, 27, 12, 5, 0, 0, time.UTC), 0, "", "", false},
		{"missing expiration means now+5m", 200,
			`<CreateSessionResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken></Credentials></CreateSessionResult>`,
			fixedNow.Add(5 * time.Minute), 0, "", "", false},
		{"offset expiration", 200,
			`<CreateSessionResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2026-11-27T13:05:00.5+01:00</Expiration></Credentials></CreateSessionResult>`,
			time.Date(2026, 11, 27, 12, 5, 0, 5e8, time.UTC), 0, "", "", false},
		{"access denied", 403,
			`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>`,
			time.Time{}, 403, "AccessDenied", "Access Denied", true},
		{"no such bucket", 404,
			`<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>`,
			time.Time{}, 404, "NoSuchBucket", "The specified bucket does not exist", true},
		{"non-XML error", 503, "upstream overloaded", time.Time{}, 503, "", "", true},
		{"huge error body is bounded", 500,
			`<Error><Code>InternalError</Code><Message>` + strings.Repeat("x", 1<<20) + `</Message></Error>`,
			time.Time{}, 500, "InternalError", "", true}, // code parsed before the cut
		{"200 without credentials", 200, `<CreateSessionResult/>`, time.Time{}, 200, "", "malformed CreateSession response", true},
		{"200 not XML", 200, `{"json":true}`, time.Time{}, 200, "", "malformed CreateSession response", true},
		{"bad expiration", 200,
			`<CreateSessionResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>tomorrow</Expiration></Credentials></CreateSessionResult>`,
			time.Time{}, 200, "", "malformed CreateSession response", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeServer(t, tt.status, tt.body)
			h := testCreator(srv.Listener.Addr().String(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"})
			creds, err := h.CreateSession(t.Context(), testBucket, ReadWrite)
			if !tt.wantErr {
				if err != nil || !creds.Expiration.Equal(tt.wantExp) || creds.AccessKeyID != "A" {
					t.Fatalf("CreateSession = %+v, %v; want expiration %v", creds, err, tt.wantExp)
				}
				return
			}
			var up *UpstreamError
			if !errors.As(err, &up) {
				t.Fatalf("error %v (%T) is not an *UpstreamError", err, err)
			}
			if up.Status != tt.wantStatus || up.Code != tt.wantCode || up.Message != tt.wantMsg {
				t.Errorf("UpstreamError = %d %q %q, want %d %q %q", up.Status, up.Code, up.Message, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
			if creds != (Credentials{}) {
				t.Errorf("creds on error = %+v", creds)
			}
		})
	}
}

func TestHTTPCreatorFailures(t *testing.T) {
	// A listener closed at once: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	errRetrieve := errors.New("no imds here")
	errResolve := errors.New("no route")

	tests := []struct {
		name      string
		mutate    func(*HTTPCreator)
		wantUp    bool // *UpstreamError with Status 0
		wantCause error
	}{
		{"connection refused", func(*HTTPCreator) {}, true, nil},
		{"iam credentials fail", func(h *HTTPCreator) {
			h.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errRetrieve })
		}, true, errRetrieve},
		{"resolve fails", func(h *HTTPCreator) {
			h.Resolve = func(string) (Endpoint, error) { return Endpoint{}, errResolve }
		}, false, errResolve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testCreator(dead, aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"})
			tt.mutate(h)
			_, err := h.CreateSession(t.Context(), testBucket, ReadWrite)
			if err == nil {
				t.Fatal("no error")
			}
			var up *UpstreamError
			if isUp := errors.As(err, &up); isUp != tt.wantUp || (isUp && (up.Status != 0 || up.Err == nil)) {
				t.Errorf("error %v: UpstreamError %v (%+v), want %v with Status 0", err, isUp, up, tt.wantUp)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("error %v does not wrap %v", err, tt.wantCause)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestHTTPCreatorCancelled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	h := testCreator(srv.Listener.Addr().String(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := h.CreateSession(ctx, testBucket, ReadWrite)
	var up *UpstreamError
	if !errors.As(err, &up) || up.Status != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want transport UpstreamError wrapping context.Canceled", err)
	}
}

func TestCorrectSkew(t *testing.T) {
	// The local clock reads fixedNow; S3's reads fixedNow+skew and stamps
	// a 5-minute session by its own clock.
	local := fixedNow.Add(5 * time.Minute)
	tests := []struct {
		name      string
		skew      time.Duration
		date      string // "" means the Date S3's clock gives
		serverExp time.Time
		want      time.Time
	}{
		{"no date", 0, "-", local, local},
		{"bad date", 0, "yesterday", local, local},
		{"in sync", 0, "", local, local},
		{"small skew ignored", 20 * time.Second, "", local.Add(20 * time.Second), local.Add(20 * time.Second)},
		{"server 10m ahead", 10 * time.Minute, "", local.Add(10 * time.Minute), local},
		{"server 10m behind", -10 * time.Minute, "", local.Add(-10 * time.Minute), local},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			date := tt.date
			switch date {
			case "":
				date = fixedNow.Add(tt.skew).Format(http.TimeFormat)
			case "-":
				date = ""
			}
			if got := correctSkew(tt.serverExp, date, fixedNow); !got.Equal(tt.want) {
				t.Errorf("correctSkew = %v, want %v", got, tt.want)
			}
		})
	}
}
