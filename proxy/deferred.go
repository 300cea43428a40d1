package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// A SigV4 request with a body and no x-amz-content-sha256 (curl before
// 8.x) signs the body's hash, so its signature is checked only when the
// body has been read (signing.Result.SignaturePending). Until then it is
// unauthenticated, and nothing may be done on its behalf that the
// signature has not covered:
//
//   - a small body (maxSettledPayload for PutObject and UploadPart,
//     maxSettledBody otherwise) is read and checked before anything else,
//     so the request goes on verified, like one with the header;
//   - a larger PutObject or UploadPart streams upstream with its final byte
//     withheld until the signature matched (signing's checkReader): a
//     mismatch aborts the upstream request short of its length, and S3
//     commits nothing. The one upstream effect before that is the
//     CreateSession that signing it needs, for a bucket the claimed key may
//     use, under that key's admission share;
//   - an upstream answer that arrives while the signature is still pending
//     (an early refusal), or a failed CreateSession, is not relayed
//     (guardPending, unverifiedError);
//   - any other operation with a larger body is refused, as S3 refuses it:
//     "Missing required header for this request: x-amz-content-sha256".
const (
	maxSettledPayload = 64 << 10
	maxSettledBody    = 1 << 20
)

// errUnverifiedAnswer stands in for an upstream answer to a request whose
// signature is still unchecked.
var errUnverifiedAnswer = s3err.New(http.StatusForbidden, "AccessDenied",
	"The upstream answered before the payload, which the request signature covers, was complete; its answer is not relayed to an unverified request.")

// settleSignature checks now, by reading a bounded body, the signature of a
// request whose signature covers its body, or leaves a large PutObject or
// UploadPart to be checked as it streams (x.pending); see above. It runs
// before any handler, shim or upstream call.
func settleSignature(x *exchange, res *signing.Result) error {
	if !res.SignaturePending() {
		return nil
	}
	streamed := x.req.Op.Name == "PutObject" || x.req.Op.Name == "UploadPart"
	limit := int64(maxSettledBody)
	if streamed {
		limit = maxSettledPayload
	}
	if res.ContentLength > limit || res.ContentLength < 0 && streamed {
		if !streamed {
			return fmt.Errorf("%w: a body over %d bytes", signing.ErrContentSHA256Required, limit)
		}
		x.pending = res
		return nil
	}
	// Grown as bytes arrive (not sized from Content-Length up front), so
	// a client that declares a body and stalls holds little memory.
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	res.Body.Close()
	switch {
	case err != nil:
		return bodyFailure(err)
	case int64(len(b)) > limit: // a body of unknown length
		return fmt.Errorf("%w: a body over %d bytes", signing.ErrContentSHA256Required, limit)
	case res.SignaturePending(): // cannot happen: the body's end runs the check
		return errUnverifiedAnswer
	}
	res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return nil
}

// guardPending keeps an upstream answer from a request whose signature is
// still unchecked: the upstream answered before the whole body reached it
// (S3 answers a PUT only once it has every byte, and the last one is
// withheld until the signature matched). It returns the error to answer
// instead: the body's own failure if there was one, else
// errUnverifiedAnswer. resp's body is closed.
func guardPending(x *exchange, resp *http.Response) error {
	if !x.pending.SignaturePending() {
		return nil
	}
	resp.Body.Close()
	if err := x.call.bodyError(); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return s3err.ErrUnavailable
	}
	return errUnverifiedAnswer
}

// unverifiedError is what a request whose signature is still pending is
// told of a failure that is not its body's: the upstream's (or a
// CreateSession's) answer is withheld, since it could tell an unverified
// caller whether a bucket or key exists. A 5xx stays a 5xx (503 SlowDown
// or ServiceUnavailable, which clients retry); anything else is
// errUnverifiedAnswer.
func unverifiedError(e *s3err.Error) *s3err.Error {
	c := s3err.ErrUnavailable
	switch {
	case e.Status < 500:
		return errUnverifiedAnswer
	case e.Code == s3err.ErrSlowDown.Code:
		c = s3err.ErrSlowDown
	}
	return s3err.Wrap(e.Err, c.Status, c.Code, c.Message) // the cause is logged, never sent
}
