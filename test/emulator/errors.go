package emulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// s3Error is an S3 error answered by the emulator. It is rendered in one
// place (writeError) as S3 XML.
type s3Error struct {
	Status  int
	Code    string
	Message string
	Extra   []xmlElem // optional elements after Message, in order
}

type xmlElem struct{ Name, Value string }

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, msg string) *s3Error {
	return &s3Error{Status: status, Code: code, Message: msg}
}

func errf(status int, code, format string, args ...any) *s3Error {
	return &s3Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors used in several places. Each call site that needs a specific
// message builds its own with newErr/errf.
var (
	errAccessDenied       = newErr(http.StatusForbidden, "AccessDenied", "Access Denied")
	errNoSuchBucket       = newErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	errNoSuchKey          = newErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	errNoSuchUpload       = newErr(http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
	errMalformedXML       = newErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
	errSignatureMismatch  = newErr(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	errInvalidAccessKeyID = newErr(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	errExpiredToken       = newErr(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	errInvalidToken       = newErr(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.")
	errContentMD5         = newErr(http.StatusNotImplemented, "NotImplemented", "This bucket does not support Content Md5 header.")
	errPreconditionFailed = newErr(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	errInvalidRange       = newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	errIncompleteBody     = newErr(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
	errSHA256Mismatch     = newErr(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	errInvalidStorage     = newErr(http.StatusBadRequest, "InvalidStorageClass", "The storage class you specified is not valid")
	errInternal           = newErr(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	errSlowDown           = newErr(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	errNotImplemented     = newErr(http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented.")
	errMethodNotAllowed   = newErr(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	errEntityTooLarge     = newErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
	errMissingLength      = newErr(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	errInvalidPart        = newErr(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	errInvalidPartOrder   = newErr(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
	errEntityTooSmall     = newErr(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
)

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Extra     []extraElem
	Resource  string `xml:"Resource,omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

type extraElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// renderError writes e as an S3 XML error. For HEAD no body is written, as
// S3 does. The caller has already set the request-id headers.
func renderError(w http.ResponseWriter, r *http.Request, e *s3Error, reqID, hostID string) {
	h := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Content-Encoding"} {
		h.Del(k)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body := errorBody{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: reqID, HostID: hostID}
	for _, x := range e.Extra {
		body.Extra = append(body.Extra, extraElem{XMLName: xml.Name{Local: x.Name}, Value: x.Value})
	}
	out, err := xml.Marshal(body)
	if err != nil {
		out = []byte("<Error><Code>InternalError</Code></Error>")
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
