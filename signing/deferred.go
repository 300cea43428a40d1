package signing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// A SigV4 request with a body and no x-amz-content-sha256 header (curl's
// --aws-sigv4 before 8.x, other plain SigV4 signers) signs a canonical
// request whose last line is the hex SHA-256 of the body. That hash, and so
// the signature, can only be checked once the whole body has been read.
// Until then the request is unauthenticated: the access key it names is
// only claimed. The body is hashed as it streams through a checkReader,
// which withholds its last byte until the signature has matched, so an
// upstream request streaming it is aborted short of its length, and nothing
// is committed, when it does not.

// payloadDeferred is what payloadHashHeader returns for such a request: the
// canonical request is built with an empty payload line, completed by
// deferredV4.check.
const payloadDeferred = ""

// deferredV4 is the signature check of a request whose payload hash is the
// body's. It is created by Verify and run once, by the checkReader of the
// body, at its end.
type deferredV4 struct {
	v         *Verifier
	a         v4Auth
	secret    string
	canonical []byte // the canonical request without its payload hash
	// ok is set once the signature has matched; read by
	// Result.SignaturePending from other goroutines.
	ok atomic.Bool
}

// deferV4 returns the Result of a SigV4 header request whose payload hash
// is its body's: every other check has passed, canonical is the canonical
// request up to the payload hash, and Body checks the signature at its end.
// The session token and expiry of key are checked now, which proves
// nothing about the caller: only the signature does.
func (v *Verifier) deferV4(r *http.Request, a *v4Auth, key Key, canonical []byte, now time.Time) (*Result, error) {
	if err := checkToken(key, r.Header.Get(HeaderS3SessionToken), now); err != nil {
		return nil, err
	}
	d := &deferredV4{v: v, a: *a, secret: key.SecretAccessKey, canonical: append([]byte(nil), canonical...)}
	res, err := v.result(r, signer{typ: AuthSigV4Header, akid: a.akid, key: key}, UnsignedPayload, nil)
	if err != nil {
		return nil, err
	}
	c := newCheckReader(res.Body, sha256.New(), nil, r.ContentLength, nil)
	c.sumCheck = d.check
	res.Body, res.state = c, &bodyState{deferred: d}
	return res, nil
}

// check completes the canonical request with sum, the body's SHA-256, and
// compares the signature; a mismatch is a *MismatchError.
func (d *deferredV4) check(sum []byte) error {
	sc := getScratch()
	defer putScratch(sc)
	sc.buf = hex.AppendEncode(append(sc.buf[:0], d.canonical...), sum)
	_, err := d.v.checkSignatureV4(sc, &d.a, d.secret)
	if err == nil {
		d.ok.Store(true)
		return nil
	}
	// curl --aws-sigv4 -T before 8.x hashes no bytes for an upload it
	// streams from a file: say what S3 says to it, since nothing signed
	// the body. The request stays unauthenticated either way.
	if !bytes.Equal(sum, emptySumBytes[:]) {
		sc.buf = append(append(sc.buf[:0], d.canonical...), emptySHA256...)
		if _, eerr := d.v.checkSignatureV4(sc, &d.a, d.secret); eerr == nil {
			return fmt.Errorf("%w: the signature covers an empty payload, not the body", ErrContentSHA256Required)
		}
	}
	return err
}

// emptySumBytes is the SHA-256 of no bytes.
var emptySumBytes = sha256.Sum256(nil)

// SignaturePending reports whether res's signature is still unchecked: a
// SigV4 request with a body and no x-amz-content-sha256, whose Body has not
// yet been read to its end with the signature matching. While it is true
// the request is not authenticated (AccessKeyID and Principal are only
// claimed), and nothing may be committed on its behalf: decisions may be
// made on the claimed identity only to refuse. A Body that ends with a
// mismatch fails its final Read with a *MismatchError and keeps this true.
// Safe for concurrent use with reads of Body.
func (res *Result) SignaturePending() bool {
	return res != nil && res.state != nil && res.state.deferred != nil && !res.state.deferred.ok.Load()
}
