package compat

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// HeaderContentMD5 is the legacy integrity header directory buckets refuse.
const HeaderContentMD5 = "Content-Md5"

// ACL drops the canned ACLs that are a no-op on a directory bucket
// (x-amz-acl: private or bucket-owner-full-control: directory buckets are
// always owner-only with ACLs disabled) and refuses every other ACL: any
// other x-amz-acl value or any x-amz-grant-* header gives 501 NotImplemented,
// as the bucket itself would, with a message saying why. h is modified in
// place only on success.
func ACL(h http.Header) error {
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Grant-") {
			return aclError("the " + strings.ToLower(k) + " header")
		}
	}
	vv, ok := h["X-Amz-Acl"]
	if !ok {
		return nil
	}
	for _, v := range vv {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "private", "bucket-owner-full-control":
		default:
			return aclError(fmt.Sprintf("the canned ACL %q", v))
		}
	}
	h.Del("X-Amz-Acl")
	return nil
}

func aclError(what string) error {
	return s3err.New(http.StatusNotImplemented, "NotImplemented",
		"Directory buckets do not support ACLs: "+what+" cannot be honoured. "+
			"Only x-amz-acl: private and bucket-owner-full-control are accepted (and ignored).")
}

// VerifyContentMD5 verifies the request's Content-MD5 locally, because
// directory buckets answer 501 to it: it wraps the decoded payload of res
// (res.WrapPayload, so the object bytes of an aws-chunked upload, below the
// unsigned aws-chunked stream sent upstream) in signing.NewMD5Reader, which
// checks the MD5 while the body streams upstream and withholds the final
// payload byte, and so the final chunk and trailer, until the digest is
// checked: on a mismatch the upstream request never completes (S3 commits
// nothing) and the failing Read of res.Body returns signing.ErrBadDigest
// (s3err.From: 400 BadDigest). A malformed value is 400 InvalidDigest up
// front (errors.Is signing.ErrInvalidDigest); an empty payload (nil
// res.Body) is checked at once. h is not modified: the caller drops
// Content-MD5 from the upstream headers. Without Content-MD5 res is left as
// is. It must be called before res.Body is read.
func VerifyContentMD5(h http.Header, res *signing.Result) error {
	if _, ok := h[HeaderContentMD5]; !ok {
		return nil
	}
	want, err := parseContentMD5(h.Get(HeaderContentMD5))
	if err != nil {
		return err
	}
	v := base64.StdEncoding.EncodeToString(want)
	err = res.WrapPayload(func(b io.ReadCloser) (io.ReadCloser, error) { return signing.NewMD5Reader(b, v) })
	if errors.Is(err, signing.ErrBadDigest) {
		return badDigest()
	}
	return err
}

// ContentMD5 verifies Content-MD5 over a body that is the payload itself
// (not aws-chunked; the proxy uses VerifyContentMD5 on what it forwards):
// it removes the header from h and returns body wrapped in
// signing.NewMD5Reader, which checks the MD5 while the body
// streams upstream and withholds the final bytes until the digest is
// checked, so on a mismatch the upstream request never completes (S3
// commits nothing) and the failing Read returns signing.ErrBadDigest
// (s3err.From: 400 BadDigest).
// A malformed value is 400 InvalidDigest up front (errors.Is
// signing.ErrInvalidDigest). On error h is untouched and body is returned
// as is (not closed), so req.Body, err = ContentMD5(req.Header, req.Body)
// is safe. Without Content-MD5, body is returned as is. A nil body is
// checked as empty at once.
func ContentMD5(h http.Header, body io.ReadCloser) (io.ReadCloser, error) {
	v := h.Get(HeaderContentMD5)
	if _, ok := h[HeaderContentMD5]; !ok {
		return body, nil
	}
	want, err := parseContentMD5(v)
	if err != nil {
		return body, err
	}
	if body == nil {
		if sum := md5.Sum(nil); string(sum[:]) != string(want) {
			return nil, badDigest()
		}
		h.Del(HeaderContentMD5)
		return nil, nil
	}
	rc, err := signing.NewMD5Reader(body, base64.StdEncoding.EncodeToString(want))
	if err != nil { // cannot happen: want was validated above
		return body, s3err.Wrap(err, http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	h.Del(HeaderContentMD5)
	return rc, nil
}

// parseContentMD5 decodes a base64 Content-MD5 value into its 16 bytes.
func parseContentMD5(v string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != md5.Size {
		if err == nil {
			err = fmt.Errorf("decoded to %d bytes", len(b))
		}
		return nil, s3err.Wrap(fmt.Errorf("%w: %w", signing.ErrInvalidDigest, err),
			http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	return b, nil
}

func badDigest() error {
	return s3err.Wrap(signing.ErrBadDigest, http.StatusBadRequest, "BadDigest",
		"The Content-MD5 you specified did not match what we received.")
}

// StorageClass drops x-amz-storage-class: STANDARD, which legacy clients
// (s3cmd sends it on every upload) use to mean "the default class":
// directory buckets have one default class, EXPRESS_ONEZONE, and refuse
// STANDARD with 400 InvalidStorageClass. Every other value goes upstream
// unchanged, so EXPRESS_ONEZONE and ONEZONE_IA work and a class the bucket
// cannot honour is still refused by S3 itself.
func StorageClass(h http.Header) {
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Amz-Storage-Class")), "STANDARD") {
		h.Del("X-Amz-Storage-Class")
	}
}
