package session

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3xproxy/s3xproxy/signing"
)

// maxBody bounds how much of a CreateSession response (success or error)
// is read.
const maxBody = 64 << 10

// emptySHA256 is the hex SHA-256 of an empty body, the payload hash of the
// CreateSession GET.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// headerSessionMode selects ReadOnly or ReadWrite (protocol notes §2.1).
const headerSessionMode = "X-Amz-Create-Session-Mode"

// HTTPCreator is the real Creator: GET /?session on the bucket's Zonal
// endpoint, signed with IAM credentials (SigV4, service s3express, never an
// x-amz-s3session-token; protocol notes §2.1). Resolve, Credentials and
// Signer are required; a nil Client is http.DefaultClient, a nil Now is
// time.Now. It is safe for concurrent use if its fields are not modified.
type HTTPCreator struct {
	Resolve     func(bucket string) (Endpoint, error)
	Credentials aws.CredentialsProvider
	Signer      *signing.Signer
	Client      *http.Client
	Now         func() time.Time
}

var _ Creator = (*HTTPCreator)(nil)

// CreateSession implements Creator. An S3 error answer is an
// *UpstreamError with its status, code and message; a transport failure,
// or failure to get the IAM credentials, is an *UpstreamError with Status 0
// wrapping the cause. A missing Expiration means now+5m (the SDKs'
// fallback).
func (h *HTTPCreator) CreateSession(ctx context.Context, bucket string, mode Mode) (Credentials, error) {
	req, err := h.newRequest(ctx, bucket, mode)
	if err != nil {
		return Credentials{}, err
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Credentials{}, &UpstreamError{Err: fmt.Errorf("session: createsession %q: %w", bucket, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Credentials{}, &UpstreamError{Err: fmt.Errorf("session: createsession %q: read response: %w", bucket, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Credentials{}, parseError(resp.StatusCode, body)
	}
	now := h.now()
	creds, err := parseResult(body, now)
	if err != nil {
		return Credentials{}, &UpstreamError{Status: resp.StatusCode, Message: "malformed CreateSession response", Err: err}
	}
	creds.Expiration = correctSkew(creds.Expiration, resp.Header.Get("Date"), now)
	return creds, nil
}

// maxSkew is the clock difference with S3 above which Expiration is moved
// onto the local clock.
const maxSkew = 30 * time.Second

// correctSkew moves exp, stamped by S3's clock, onto the local clock when the
// response's Date shows the clocks differ by more than maxSkew: otherwise a
// local clock running minutes ahead would see every session as expired on
// arrival (and one behind would use sessions past their end). Small skews
// are left alone: Date has one-second resolution, and the cache's hard
// margin absorbs them.
func correctSkew(exp time.Time, date string, now time.Time) time.Time {
	if date == "" {
		return exp
	}
	server, err := http.ParseTime(date)
	if err != nil {
		return exp
	}
	skew := server.Sub(now)
	if skew > -maxSkew && skew < maxSkew {
		return exp
	}
	return exp.Add(-skew)
}

func (h *HTTPCreator) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// newRequest builds and signs the CreateSession request for bucket.
func (h *HTTPCreator) newRequest(ctx context.Context, bucket string, mode Mode) (*http.Request, error) {
	ep, err := h.Resolve(bucket)
	if err != nil {
		return nil, fmt.Errorf("session: resolve %q: %w", bucket, err)
	}
	if ep.URL == nil {
		return nil, fmt.Errorf("session: resolve %q: no endpoint URL", bucket)
	}
	u := *ep.URL
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/", "/", "session", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("session: createsession %q: %w", bucket, err)
	}
	if mode != "" {
		req.Header.Set(headerSessionMode, string(mode))
	}
	req.Header.Set(signing.HeaderContentSHA256, emptySHA256)
	iam, err := h.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, &UpstreamError{Err: fmt.Errorf("session: iam credentials: %w", err)}
	}
	if err := h.Signer.SignIAM(req, iam, signing.ServiceS3Express, ep.Region, h.now()); err != nil {
		return nil, fmt.Errorf("session: sign createsession %q: %w", bucket, err)
	}
	return req, nil
}

// createSessionResult is the CreateSession answer (protocol notes §2.2),
// matched by element name whatever the namespace and order.
type createSessionResult struct {
	Credentials struct {
		SessionToken    string `xml:"SessionToken"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		AccessKeyID     string `xml:"AccessKeyId"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
}

// parseResult decodes a CreateSession body; a missing Expiration is now+5m.
func parseResult(body []byte, now time.Time) (Credentials, error) {
	var r createSessionResult
	if err := xml.Unmarshal(body, &r); err != nil {
		return Credentials{}, fmt.Errorf("session: parse createsession result: %w", err)
	}
	c := r.Credentials
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		return Credentials{}, errors.New("session: createsession result without credentials")
	}
	out := Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if exp := strings.TrimSpace(c.Expiration); exp == "" {
		out.Expiration = now.Add(5 * time.Minute)
	} else {
		t, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			return Credentials{}, fmt.Errorf("session: createsession expiration %q: %w", exp, err)
		}
		out.Expiration = t
	}
	return out, nil
}

// s3Error is an S3 error body (protocol notes §8).
type s3Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// parseError turns a non-2xx answer into an *UpstreamError; an unparsable
// body leaves Code empty.
func parseError(status int, body []byte) *UpstreamError {
	var e s3Error
	_ = xml.Unmarshal(body, &e) // best effort: the status is what matters
	return &UpstreamError{Status: status, Code: strings.TrimSpace(e.Code), Message: strings.TrimSpace(e.Message)}
}
