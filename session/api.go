package session

// This file fixes the package's exported API so that proxy can be written
// against it. Bodies marked "stub" are replaced by the real implementation;
// the signatures may gain options but should not change.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3xproxy/s3xproxy/signing"
)

// Mode is the CreateSession session mode.
type Mode string

const (
	ReadWrite Mode = "ReadWrite"
	ReadOnly  Mode = "ReadOnly"
)

// Credentials are one upstream session.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Creator calls CreateSession. Implementations must be safe for concurrent use.
type Creator interface {
	CreateSession(ctx context.Context, bucket string, mode Mode) (Credentials, error)
}

// ErrThrottled is returned when no CreateSession token could be had within
// Options.CreateWait (the proxy answers 503 SlowDown).
var ErrThrottled = errors.New("session: createsession rate limited")

// UpstreamError is a CreateSession answered with an S3 error (or failed at
// transport level, Status 0). It is cached for Options.FailureTTL.
type UpstreamError struct {
	Status  int    // HTTP status, 0 when the request never got an answer
	Code    string // S3 error code, e.g. AccessDenied, NoSuchBucket
	Message string
	Err     error // transport error, if any
}

func (e *UpstreamError) Error() string {
	if e.Status == 0 {
		return "session: createsession: " + errString(e.Err)
	}
	return "session: createsession: " + e.Code + ": " + e.Message
}

func (e *UpstreamError) Unwrap() error { return e.Err }

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// Key identifies one cached session.
type Key struct {
	Identity string // hash of the upstream IAM identity, never the secret itself
	Bucket   string
	Mode     Mode
}

// Status says how Get was served (for the access log and metrics).
type Status string

const (
	Hit     Status = "hit"
	Miss    Status = "miss"
	Refresh Status = "refresh" // served from cache while a background refresh started
)

// Observer receives cache events for metrics. Methods must be cheap and safe
// for concurrent use. A nil Observer in Options is a no-op.
type Observer interface {
	// CreateSession reports one finished CreateSession call; code is "" on
	// success, else the S3 error code (or "transport").
	CreateSession(bucket string, mode Mode, code string, took time.Duration)
	// Throttled reports a request that waited for a token (waited) and
	// whether it got one (ok=false means 503 SlowDown).
	Throttled(waited time.Duration, ok bool)
}

// Options configures a Cache. Zero values mean the documented defaults.
type Options struct {
	RefreshBefore time.Duration // default 60s
	MaxEntries    int           // default 10000
	IdleTTL       time.Duration // keys unused this long are dropped; default 10m
	CreateRate    float64       // CreateSession calls per second; default 20
	CreateBurst   int           // default 40
	CreateWait    time.Duration // default 2s
	FailureTTL    time.Duration // default 5s
	CreateTimeout time.Duration // per CreateSession call; default 10s
	Now           func() time.Time
	Observer      Observer
}

// Cache caches sessions. Safe for concurrent use.
type Cache struct {
	creator Creator
	opts    Options
}

// New returns a Cache over creator.
func New(creator Creator, opts Options) *Cache { return &Cache{creator: creator, opts: opts} } // stub

// Get returns valid credentials for key, creating them if needed. ctx bounds
// only the caller's wait, never the CreateSession call itself.
func (c *Cache) Get(ctx context.Context, key Key) (Credentials, Status, error) {
	creds, err := c.creator.CreateSession(ctx, key.Bucket, key.Mode) // stub
	return creds, Miss, err
}

// Invalidate drops key's entry if it still holds creds (compare by
// AccessKeyID), so the next Get creates a new session. Used when upstream
// answers ExpiredToken/InvalidToken.
func (c *Cache) Invalidate(key Key, creds Credentials) {} // stub

// Len returns the number of cached entries.
func (c *Cache) Len() int { return 0 } // stub

// Close stops background refresh.
func (c *Cache) Close() {} // stub

// Endpoint says where to send a bucket's CreateSession.
type Endpoint struct {
	URL    *url.URL // scheme://<bucket>.s3express-<zone>.<region>.amazonaws.com
	Region string
}

// HTTPCreator is the real Creator: GET /?session on the bucket's Zonal
// endpoint, signed with IAM credentials (SigV4, service s3express).
type HTTPCreator struct {
	Resolve     func(bucket string) (Endpoint, error)
	Credentials aws.CredentialsProvider
	Signer      *signing.Signer
	Client      *http.Client
	Now         func() time.Time
}

// CreateSession implements Creator.
func (h *HTTPCreator) CreateSession(ctx context.Context, bucket string, mode Mode) (Credentials, error) {
	return Credentials{}, errors.New("session: not implemented") // stub
}
