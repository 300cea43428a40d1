package proxy

// This file holds the package's public contract: the configuration, the
// extension seams (Request, RequestShim, Handler), the operation and record
// types cmd and the gateway are written against. The handler itself is in
// proxy.go and serve.go; its stages, one file each, are listed in
// docs/proxy.md.

import (
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Access is what an identity may do.
type Access int

const (
	AccessNone Access = iota
	AccessRead
	AccessReadWrite
)

// Credential is one local client key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	Buckets         []string // globs over alias or real bucket names
	Access          Access
	// CreateBuckets lets the identity create and delete buckets under
	// Options.DefaultZone (buckets.go). Default false.
	CreateBuckets bool

	// session is set on the per-request copy a local session acts as
	// (sessionCredential): access is then narrowed to its bucket and mode.
	session *localsession.Session
}

// Alias maps a legacy-friendly name to a directory bucket.
type Alias struct {
	Name      string
	Target    string
	Anonymous Access // access granted to anonymous requests on this alias
	// AnonymousSet says Anonymous overrides Options.Anonymous.
	AnonymousSet bool
}

// Options configures a Proxy. Zero values mean the documented defaults.
type Options struct {
	// VirtualHostDomains enables <bucket>.<domain> addressing. Default:
	// none, path-style addressing only.
	VirtualHostDomains []string

	// Region is the default upstream region (required).
	Region string
	// Zones maps zone ids to regions ahead of the prefix rule. Default:
	// none, the prefix rule alone (route.Options.Zones).
	Zones map[string]string
	// FIPS selects the FIPS Zonal and control endpoints. Default false.
	FIPS bool
	// Dualstack selects the dual-stack (IPv4 and IPv6) endpoints. Default
	// false.
	Dualstack bool
	// Scheme is "https" (default) or "http".
	Scheme string
	// DNSSuffix default "amazonaws.com" ("amazonaws.com.cn" for cn-* regions).
	DNSSuffix string
	// Transport carries every upstream request, CreateSession included
	// (default: DefaultTransport()). Tests and dial_address wiring set it;
	// it should keep ExpectContinueTimeout > 0 and DisableCompression.
	Transport http.RoundTripper

	// UpstreamCredentials are the IAM credentials (required).
	UpstreamCredentials aws.CredentialsProvider

	// DenyUnlisted: only aliases and Allow buckets may be reached. Default
	// false: any directory bucket name may be.
	DenyUnlisted bool
	// Allow lists the bucket names reachable under DenyUnlisted besides the
	// aliases. Default: none.
	Allow []string
	// Aliases are bucket names that stand for a real bucket, resolved
	// before anything else. Default: none.
	Aliases []Alias
	// DefaultZone (a zone id, e.g. usw2-az1) makes a bucket name without
	// the directory suffix mean <name>--<zone>--x-s3 and turns on
	// CreateBucket and DeleteBucket for Credential.CreateBuckets
	// (buckets.go). Default "" (off: such names are 404 NoSuchBucket,
	// CreateBucket and DeleteBucket 501).
	DefaultZone string

	// Sessions configures the upstream session cache (Now and Observer too).
	// Default: the zero session.Options, whose defaults are documented
	// there.
	Sessions session.Options
	// SessionMode: "auto" (default: ReadOnly sessions for identities that
	// may only read the bucket, ReadWrite for the rest), "readwrite", or
	// "iam" (no sessions: every request IAM-signed).
	SessionMode string

	// ReplayBuffer bounds the body kept for the one retry. Default 8 MiB;
	// negative: bodies are never kept (body-less requests still retry).
	ReplayBuffer int64
	// ReplayBudget bounds the replay buffers of all requests in flight
	// together; a request that cannot get budget streams without one. Share
	// one budget between the proxies a process builds (see ReplayBudget).
	// Default: a budget of DefaultReplayBudget for this proxy alone.
	ReplayBudget *ReplayBudget
	// BodyIdleTimeout ends a request whose client sends no body bytes for
	// this long while the proxy waits for them: the upstream request is
	// aborted (nothing is committed) and the client gets 400 RequestTimeout.
	// It uses http.ResponseController.SetReadDeadline, so it works only
	// where the server's ResponseWriter supports that (net/http's HTTP/1
	// and HTTP/2 servers do). Default DefaultBodyIdleTimeout; negative
	// disables it.
	BodyIdleTimeout time.Duration

	// Anonymous is the access of unauthenticated requests. Default AccessNone.
	Anonymous Access
	// MaxClockSkew default 15m.
	MaxClockSkew time.Duration
	// SigV2 accepts SigV2 header and query auth from clients, within what
	// a SigV2 signature covers (docs/proxy.md). Default false.
	SigV2 bool
	// Credentials are the local identities clients sign with. Default:
	// none, so only anonymous requests (Anonymous), KeyLookups and local
	// sessions authenticate.
	Credentials []Credential
	// LocalSessionTTL is the lifetime of proxy-issued S3 Express sessions. Default 5m.
	LocalSessionTTL time.Duration
	// LocalSessionKeys seal proxy-issued sessions: the first seals, all
	// open (localsession.Options.Keys). Every replica, and every reload,
	// must get the same keys for sessions to work everywhere and survive.
	// Default: a random key made by New, so sessions die with this Proxy.
	LocalSessionKeys [][]byte

	// Logger receives the access log (one line per request) and errors.
	// Default: zerolog.Nop().
	Logger zerolog.Logger
	// AccessLog turns on the access-log line (cmd defaults it to true).
	AccessLog bool
	// Observer receives per-request records for metrics; nil is a no-op.
	Observer Observer
	// Now is the clock; default time.Now.
	Now func() time.Time

	// KeyLookups are consulted, in order, for access keys that are not in
	// Credentials (the proxy's own local sessions come after them). A
	// returned Key's Principal must be a *Credential (its Buckets and
	// Access apply); local sessions may be issued to these keys too.
	// Default: none.
	KeyLookups []signing.KeyLookup
	// Shims run, in order, on every authorized request that is forwarded,
	// before it is signed, after the built-in compatibility shims (ACL,
	// storage class, Content-MD5, DeleteObjects checksum and, with
	// the ETag contract, the CompleteMultipartUpload ETag translation).
	// Default: none.
	Shims []RequestShim
	// PassthroughETags turns the ETag contract off, so S3's ETags reach
	// clients unchanged. The contract (docs/compat.md, "ETags"; on by
	// default, as legacy clients need it): successful PutObject and
	// UploadPart answers carry the quoted hex MD5 of the payload when the
	// client declared it in Content-MD5 (verified in stream) or under
	// AlwaysMD5ETags, which boto 2 requires, S3 Express ETags not being MD5
	// digests; every other ETag (HEAD, GET, listings, CopyObject,
	// CompleteMultipartUpload, ListParts, other PutObjects) is marked
	// (compat.MarkETag: "<etag>-s3x"), so no client takes it for an MD5;
	// and marked ETags are mapped back in If-Match, If-None-Match, the
	// copy-source conditions and CompleteMultipartUpload part lists, whose
	// MD5 part ETags are replaced with the real ones from ListParts
	// (compat.CompleteMultipartETags). Default false (the contract applies).
	PassthroughETags bool
	// AlwaysMD5ETags makes every successful PutObject and UploadPart
	// answer the MD5 of its payload, hashing those sent without a
	// Content-MD5 as they stream (about 1.6 CPU-seconds per GiB: MD5 runs
	// at ~650 MB/s on one core, slower than a bare hop moves a body).
	// Default false: the MD5 is answered only when the client declared it
	// in Content-MD5, which the proxy verifies anyway; otherwise S3's ETag,
	// marked. Ignored with PassthroughETags.
	AlwaysMD5ETags bool
	// Lister configures the default ListObjects and ListObjectsV2
	// handlers; zero fields take compat's defaults (1000-key pages when a
	// prefix is filtered, at most compat.DefaultMaxPages upstream pages per
	// client request, a 4096-entry last-key marker cache).
	Lister compat.ListerOptions
	// Handlers answer operations (by Operation.Name) instead of forwarding
	// them. New installs defaults for ListBuckets, ListObjects (V1),
	// ListObjectsV2 (prefix filtering) and CreateSession (local sessions);
	// an entry here replaces the default of the same name, and a nil entry
	// removes it (ListBuckets, ListObjects and CreateSession then get 501).
	Handlers map[string]Handler
}

// Record is what the proxy knows about one finished request: the access-log
// line and the metrics are both made from it.
type Record struct {
	RequestID string
	Identity  string // local access key id, "anonymous", or ""
	AuthType  string // signing.AuthType.String()
	Bucket    string // real bucket name
	Operation string // e.g. GetObject, PutObject, ListObjectsV2
	Status    int
	ErrorCode string // S3 error code when Status >= 300, if known; why a response was Aborted
	BytesIn   int64
	BytesOut  int64
	Total     time.Duration
	Upstream  time.Duration // 0 when upstream was not reached
	Session   session.Status
	Retried   bool
	// Aborted: the response was cut after it had started (the upstream
	// body failed mid-copy, or the client went away); Status is what was
	// sent, ErrorCode says why when known ("ResponseAborted" otherwise).
	Aborted bool
	// UpstreamClockSkew: the upstream refused the proxy's clock
	// (RequestTimeTooSkewed), on CreateSession or on the request itself.
	UpstreamClockSkew bool
}

// Observer receives one Record per request. Must be cheap and safe for
// concurrent use.
type Observer interface {
	ObserveRequest(rec *Record)
}

// Request is one authenticated, authorized request on its way upstream, as
// shims and handlers see it.
type Request struct {
	ID string
	// In is the inbound request. It must not be modified.
	In *http.Request
	// Bucket is the bucket name as the client wrote it (alias or real).
	Bucket string
	Target route.Target
	// Key is the decoded object key, "" for bucket-level requests.
	Key string
	Op  Operation
	// Identity is the local access key id, or "anonymous", for records;
	// decisions use Credential.
	Identity string
	// Credential is the local credential that authenticated the request,
	// nil for an anonymous request. For a request signed with a local
	// session it is the issuing credential narrowed to the session.
	Credential *Credential
	// Access is what Identity may do on this bucket.
	Access Access
	// Header and Query are what will be sent upstream, inbound auth and
	// hop-by-hop headers already removed. Shims may edit them.
	Header http.Header
	Query  url.Values
	// Body is the verified inbound body (nil when there is none) and
	// ContentLength its upstream length (-1 unknown). Shims may replace both.
	Body          io.ReadCloser
	ContentLength int64
	// ContentSHA256 is the upstream x-amz-content-sha256 (UNSIGNED-PAYLOAD
	// or STREAMING-UNSIGNED-PAYLOAD-TRAILER). Shims may change it together
	// with Body.
	ContentSHA256 string
}

// RequestShim adapts a request for a directory bucket before it is signed
// and forwarded (e.g. drop x-amz-acl: private). It may modify req's Header,
// Query, Body, ContentLength and ContentSHA256, or return an error
// (rendered through s3err) to refuse the request.
type RequestShim func(req *Request) error

// Handler answers an operation itself instead of forwarding it. It may call
// Proxy.Upstream. An error returned before anything was written to w is
// rendered through s3err; returning nil without writing is answered 500
// InternalError (never net/http's implicit 200), and an error returned
// after the response started cuts the connection (http.ErrAbortHandler).
type Handler func(w http.ResponseWriter, req *Request) error

// UpstreamAuth says how a request is signed for S3 Express.
type UpstreamAuth int

const (
	// SignSession signs with cached CreateSession credentials and the
	// x-amz-s3session-token header (the default for Zonal data operations).
	SignSession UpstreamAuth = iota
	// SignIAM signs with the upstream IAM credentials, service s3express:
	// CopyObject, UploadPartCopy, HeadBucket and every control-plane call
	// (docs/s3express-protocol.md §3.1).
	SignIAM
)

func (a UpstreamAuth) String() string {
	if a == SignIAM {
		return "iam"
	}
	return "session"
}

// Operation is what Classify knows about one S3 request.
type Operation struct {
	// Name is the S3 API name (GetObject, PutObject, ListObjectsV2, ...), or
	// "Unknown" for a request the classifier does not recognise (forwarded,
	// session-signed, read or write by method).
	Name string
	// Write says the operation needs read-write access.
	Write bool
	// Auth is how the operation is signed upstream.
	Auth UpstreamAuth
	// Control says the operation goes to the regional control endpoint
	// (s3express-control.<region>, path-style) instead of the Zonal host.
	Control bool
}

// Defaults applied by New to zero Options fields.
const (
	DefaultReplayBuffer = 8 << 20
	DefaultMaxClockSkew = 15 * time.Minute
	DefaultScheme       = "https"
)

// Session modes of Options.SessionMode.
const (
	// SessionModeAuto: ReadOnly sessions for identities that may only read
	// the bucket (read-only keys, anonymous read), ReadWrite for the rest.
	SessionModeAuto = "auto"
	// SessionModeReadWrite: every session is ReadWrite.
	SessionModeReadWrite = "readwrite"
	// SessionModeIAM: no sessions; every request is signed with the IAM
	// credentials (DisableS3ExpressSessionAuth behaviour).
	SessionModeIAM = "iam"
)

// Upstream request ids are kept, renamed, so the proxy's own
// x-amz-request-id stays the one id of the response.
const (
	HeaderUpstreamRequestID = "X-S3xproxy-Upstream-Request-Id"
	HeaderUpstreamID2       = "X-S3xproxy-Upstream-Id-2"
)
