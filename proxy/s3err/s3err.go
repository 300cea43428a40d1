// Package s3err is the proxy's one S3 error type and the one place it is
// rendered as S3 XML.
//
// Every error the proxy itself produces becomes an *Error (status, S3 code,
// message, cause) through From, which classifies the errors of signing and
// session with errors.Is/As. Write renders it. Upstream errors never pass
// through here: they go to the client unchanged. Messages never carry secrets;
// the cause is for logs only and never rendered.
package s3err

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"

	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Error is an S3 error the proxy answers itself.
type Error struct {
	Status  int
	Code    string
	Message string
	// Resource is the request path the error is about (optional).
	Resource string
	// Extra elements rendered after Message (e.g. StringToSign), in order.
	Extra []Elem
	// Err is the cause, for logs; never rendered.
	Err error
}

// Elem is one extra XML element of an error body.
type Elem struct {
	Name, Value string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error without a cause.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Wrap returns an *Error with cause err.
func Wrap(err error, status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message, Err: err}
}

// Common errors.
var (
	ErrAccessDenied   = New(http.StatusForbidden, "AccessDenied", "Access Denied")
	ErrNoSuchBucket   = New(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	ErrInvalidBucket  = New(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	ErrSlowDown       = New(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	ErrInternal       = New(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	ErrNotImplemented = New(http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented.")
	ErrUnavailable    = New(http.StatusServiceUnavailable, "ServiceUnavailable", "The upstream endpoint could not be reached. Please try again.")
)

type mapping struct {
	target error
	status int
	code   string
	msg    string
}

// table maps the sentinels of signing and session to S3 errors.
var table = []mapping{
	{signing.ErrMissingAuth, 403, "AccessDenied", "Access Denied"},
	{signing.ErrMalformedAuth, 400, "AuthorizationHeaderMalformed", "The authorization header or query parameters are malformed."},
	{signing.ErrUnsupportedAuth, 400, "InvalidRequest", "The authorization mechanism you have provided is not supported."},
	{signing.ErrInvalidAccessKeyID, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."},
	{signing.ErrSignatureDoesNotMatch, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	{signing.ErrHeadersNotSigned, 403, "AccessDenied", "There were headers present in the request which were not signed"},
	{signing.ErrRequestTimeTooSkewed, 403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."},
	{signing.ErrRequestExpired, 403, "AccessDenied", "Request has expired"},
	{signing.ErrContentSHA256Required, 400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"},
	{signing.ErrContentSHA256Mismatch, 400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."},
	{signing.ErrBadDigest, 400, "BadDigest", "The Content-MD5 you specified did not match what we received."},
	{signing.ErrInvalidDigest, 400, "InvalidDigest", "The Content-MD5 you specified is not valid."},
	{signing.ErrIncompleteBody, 400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	{signing.ErrInvalidToken, 400, "InvalidToken", "The provided token is malformed or otherwise invalid."},
	{signing.ErrExpiredToken, 400, "ExpiredToken", "The provided token has expired."},
	{session.ErrThrottled, 503, "SlowDown", "Please reduce your request rate."},
	// A cache closed by a reload while a request was in flight: retryable.
	{session.ErrClosed, 503, "ServiceUnavailable", "The proxy is reloading. Please try again."},
}

// From classifies err as an *Error: an *Error in its chain is returned as is;
// a known sentinel is mapped; a session.UpstreamError keeps its S3 status and
// code (a transport failure becomes 503 ServiceUnavailable, a 5xx or an
// unparsable answer 503 SlowDown); anything else is 500 InternalError. The result's Err is err.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var up *session.UpstreamError
	if errors.As(err, &up) {
		if up.Status == 0 {
			return FromTransport(err)
		}
		if up.Code == "RequestTimeTooSkewed" {
			// The upstream judged the proxy's clock, not the client's:
			// passing the code on would make SDKs correct their own clock
			// offset (from this response's Date) and then fail the proxy's
			// check of their signatures.
			c := ErrUpstreamClockSkew
			return Wrap(err, c.Status, c.Code, c.Message)
		}
		if up.Code == "" || up.Status >= 500 {
			// A control plane failing (5xx, or an answer that does not
			// parse) is the client's cue to back off and retry, as S3
			// asks with SlowDown: clients retry it with backoff.
			return Wrap(err, ErrSlowDown.Status, ErrSlowDown.Code, ErrSlowDown.Message)
		}
		msg := up.Message
		if msg == "" {
			msg = http.StatusText(up.Status)
		}
		return Wrap(err, up.Status, up.Code, msg)
	}
	for _, m := range table {
		if errors.Is(err, m.target) {
			e := Wrap(err, m.status, m.code, m.msg)
			e.Extra = mismatchExtra(err)
			return e
		}
	}
	return Wrap(err, ErrInternal.Status, ErrInternal.Code, ErrInternal.Message)
}

// ErrUpstreamClockSkew answers a request whose CreateSession, or the
// request itself, the upstream refused with RequestTimeTooSkewed: the
// proxy's clock is off, which only its operator can fix.
var ErrUpstreamClockSkew = New(http.StatusServiceUnavailable, "ServiceUnavailable",
	"The proxy's clock differs from the upstream's by more than 15 minutes (RequestTimeTooSkewed from the upstream); its operator must fix the proxy's clock.")

// ErrUpstreamCertificate is an upstream whose TLS certificate does not
// verify (untrusted, expired, wrong name). It is not retried in a loop and
// never answered over an unverified connection.
var ErrUpstreamCertificate = New(http.StatusBadGateway, "BadGateway", "The upstream endpoint's TLS certificate could not be verified.")

// FromTransport classifies a failed upstream round trip: 502 when the
// upstream's certificate does not verify, else 503 ServiceUnavailable.
// The result's Err is err.
func FromTransport(err error) *Error {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var hn x509.HostnameError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &hn) {
		c := ErrUpstreamCertificate
		return Wrap(err, c.Status, c.Code, c.Message)
	}
	return Wrap(err, ErrUnavailable.Status, ErrUnavailable.Code, ErrUnavailable.Message)
}

// mismatchExtra returns the elements S3 adds to SignatureDoesNotMatch so a
// client author can see what the proxy computed: the access key id, the
// string to sign and canonical request (never a secret), and the signature
// provided.
func mismatchExtra(err error) []Elem {
	var m *signing.MismatchError
	if !errors.As(err, &m) {
		return nil
	}
	out := []Elem{{"AWSAccessKeyId", m.AccessKeyID}, {"StringToSign", m.StringToSign}}
	if m.CanonicalRequest != "" {
		out = append(out, Elem{"CanonicalRequest", m.CanonicalRequest})
	}
	return append(out, Elem{"SignatureProvided", m.SignatureProvided})
}

type body struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Extra     []extra
	Resource  string `xml:"Resource,omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId,omitempty"`
}

type extra struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// Write renders err (classified by From) as S3 XML with its status. The
// x-amz-request-id / x-amz-id-2 response headers are expected to be set by the
// caller already; requestID is repeated in the body. A HEAD request gets no
// body, as S3 does.
func Write(w http.ResponseWriter, r *http.Request, err error, requestID string) *Error {
	e := From(err)
	b := body{Code: e.Code, Message: e.Message, Resource: e.Resource, RequestID: requestID}
	for _, x := range e.Extra {
		b.Extra = append(b.Extra, extra{XMLName: xml.Name{Local: x.Name}, Value: x.Value})
	}
	out, merr := xml.Marshal(b)
	if merr != nil { // cannot happen for these types; keep the status anyway
		out = nil
	}
	payload := append([]byte(xml.Header), out...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Del("Content-Length")
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1") // RFC 9110 10.2.3: when to try again
	}
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return e
	}
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(payload)
	return e
}
