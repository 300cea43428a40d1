package session_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

const emuBucket = "b--usw2-az1--x-s3"

// emulatorCreator is an HTTPCreator that routes like the proxy (route, plain
// HTTP) and dials the emulator.
func emulatorCreator(t *testing.T, e *emulator.Emulator, secret string) (*session.HTTPCreator, *http.Client) {
	t.Helper()
	r, err := route.New(route.Options{Region: "us-west-2", Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, e.Addr())
		},
	}}
	return &session.HTTPCreator{
		Resolve: func(bucket string) (session.Endpoint, error) {
			tg, err := r.Resolve(bucket)
			if err != nil {
				return session.Endpoint{}, err
			}
			return session.Endpoint{URL: tg.URL, Region: tg.Region}, nil
		},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret}, nil
		}),
		Signer: signing.NewSigner(),
		Client: client,
	}, client
}

func TestEmulatorCreateSession(t *testing.T) {
	e := emulator.Start(t, emulator.Options{Credentials: map[string]string{"AKID": "SECRET"}, Buckets: []string{emuBucket}})
	h, client := emulatorCreator(t, e, "SECRET")
	c := session.New(h, session.Options{})
	defer c.Close()
	k := session.Key{Identity: "id", Bucket: emuBucket, Mode: session.ReadWrite}
	var wg sync.WaitGroup
	creds := make([]session.Credentials, 50)
	for i := range creds {
		wg.Go(func() {
			var err error
			if creds[i], _, err = c.Get(t.Context(), k); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	}
	wg.Wait()
	if got := e.Stats().CreateSessions[emuBucket+"/ReadWrite"]; got != 1 {
		t.Errorf("emulator CreateSessions = %d (%v), want 1", got, e.Stats().CreateSessions)
	}
	if creds[0].SessionToken == "" || creds[0].Expiration.IsZero() {
		t.Fatalf("creds = %+v", creds[0])
	}
	// The session works for a session-signed data call.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+emuBucket+".s3express-usw2-az1.us-west-2.amazonaws.com/?list-type=2", nil)
	req.URL.RawPath = "/"
	sc := aws.Credentials{AccessKeyID: creds[0].AccessKeyID, SecretAccessKey: creds[0].SecretAccessKey, SessionToken: creds[0].SessionToken}
	if err := signing.NewSigner().SignSession(req, sc, "us-west-2", time.Now()); err != nil {
		t.Fatalf("SignSession: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ListObjectsV2 with the session: %s", resp.Status)
	}
	if got := e.Stats().SessionRequests["ListObjectsV2"]; got != 1 {
		t.Errorf("emulator session-signed ListObjectsV2 = %d, want 1", got)
	}
}

func TestEmulatorCreateSessionErrors(t *testing.T) {
	tests := []struct {
		name       string
		secret     string
		bucket     string
		faults     *emulator.Faults
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", "WRONG", emuBucket, nil, 403, "SignatureDoesNotMatch"},
		{"unknown bucket", "SECRET", "nope--usw2-az1--x-s3", nil, 404, "NoSuchBucket"},
		{"access denied", "SECRET", emuBucket, &emulator.Faults{FailCreateSession: 100}, 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := emulator.Start(t, emulator.Options{Credentials: map[string]string{"AKID": "SECRET"}, Buckets: []string{emuBucket}})
			if tt.faults != nil {
				e.SetFaults(*tt.faults)
			}
			h, _ := emulatorCreator(t, e, tt.secret)
			c := session.New(h, session.Options{})
			defer c.Close()
			k := session.Key{Identity: "id", Bucket: tt.bucket, Mode: session.ReadOnly}
			for range 5 { // cached: one upstream call
				_, _, err := c.Get(t.Context(), k)
				var up *session.UpstreamError
				if !errors.As(err, &up) || up.Status != tt.wantStatus || up.Code != tt.wantCode {
					t.Fatalf("Get error = %v, want %d %s", err, tt.wantStatus, tt.wantCode)
				}
			}
			if got := e.Stats().Requests["CreateSession"]; got != 1 {
				t.Errorf("emulator saw %d CreateSession requests, want 1 (%v)", got, e.Stats().Requests)
			}
		})
	}
}
