package session

// This file holds the package's shared types. The Cache is in cache.go, the
// HTTPCreator in creator.go.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
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

// ErrClientThrottled is an ErrThrottled (errors.Is) returned when the
// client's own CreateSession budget (Options.CreateRatePerClient) is spent:
// the global budget was not touched.
var ErrClientThrottled = fmt.Errorf("%w: client over its own budget", ErrThrottled)

// UpstreamError is a CreateSession answered with an S3 error (or failed at
// transport level, Status 0). It is cached for Options.NegativeTTL when it
// says the bucket cannot be used (NoSuchBucket, AccessDenied,
// InvalidBucketName), else for Options.FailureTTL.
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
	// success, else the S3 error code (or "transport"). It is called once
	// the outcome is stored (a Get from it is served the new session),
	// without the cache's lock held, before the callers waiting are released.
	CreateSession(bucket string, mode Mode, code string, took time.Duration)
	// Throttled reports a request that waited for a token (waited) and
	// whether it got one (ok=false means 503 SlowDown).
	Throttled(waited time.Duration, ok bool)
}

// ClientObserver is an optional extension of Observer: a Cache whose
// Observer implements it also reports each GetFor refused because its
// client was over its own budget (ErrClientThrottled), which Throttled
// reports as a refusal like any other. It must be cheap and safe for
// concurrent use.
type ClientObserver interface {
	ClientThrottled()
}

// Options configures a Cache. Zero (or negative) values mean the documented
// defaults.
type Options struct {
	// RefreshBefore: a Get this close to expiry starts a background refresh.
	// Default 60s; clamped to half the session's lifetime so that a short
	// session is not refreshed continuously.
	RefreshBefore time.Duration
	MaxEntries    int              // LRU bound; default 10000
	IdleTTL       time.Duration    // keys unused this long are dropped; default 10m
	CreateRate    float64          // CreateSession calls per second; default 20
	CreateBurst   int              // default 40
	CreateWait    time.Duration    // longest wait for a rate-limit token; default 2s, negative: never wait
	FailureTTL    time.Duration    // how long a failed CreateSession is cached; default 5s, negative: not cached
	CreateTimeout time.Duration    // per CreateSession call; default 10s
	Now           func() time.Time // default time.Now
	Observer      Observer         // nil: no-op

	// CreateRatePerClient and CreateBurstPerClient are each client's own
	// CreateSession budget (GetFor), taken before the global one. Defaults:
	// a quarter of CreateRate and of CreateBurst (at least 1), so that no
	// one client can spend more than a quarter of the global rate.
	CreateRatePerClient  float64
	CreateBurstPerClient int
	// MaxClients bounds the clients whose budget is tracked; beyond it the
	// least recently seen are forgotten (and start again with a full
	// burst). Clients whose budget is full again are forgotten anyway.
	// Default 10000.
	MaxClients int
	// NegativeTTL is how long a CreateSession answered NoSuchBucket,
	// AccessDenied or InvalidBucketName is remembered per key and answered
	// from memory, without a token or an upstream call. At most MaxEntries
	// such answers are kept (LRU), apart from the sessions. Default 30s.
	NegativeTTL time.Duration
}

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("session: cache closed")

// Endpoint says where to send a bucket's CreateSession.
type Endpoint struct {
	URL    *url.URL // scheme://<bucket>.s3express-<zone>.<region>.amazonaws.com
	Region string
}
