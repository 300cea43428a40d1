package emulator

import (
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// reqCtx is one request being served.
type reqCtx struct {
	e          *Emulator
	w          *respWriter
	r          *http.Request
	id, hostID string
	now        time.Time
	hi         hostInfo
	q          *query
	canonPath  string // canonical URI path for SigV4
	bucketName string
	key        string
	op         string
	b          *bucket
	sig        *sigInput
	sess       *session // nil when IAM-signed
	signingKey []byte
}

// respWriter records whether the header was written, so a panic can still
// be answered with a 500 when nothing was sent.
type respWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *respWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the stdlib's ReaderFrom fast path for GET bodies.
func (w *respWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wrote = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (e *Emulator) serveS3(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{e: e, w: &respWriter{ResponseWriter: w}, r: r, now: e.now().Add(e.clockSkew()), id: e.newRequestID()}
	rc.hostID = hostIDFor(rc.id)
	h := w.Header()
	h["X-Amz-Request-Id"] = []string{rc.id}
	h["X-Amz-Id-2"] = []string{rc.hostID}
	h["Server"] = []string{"AmazonS3"}
	defer rc.recoverPanic()
	if lat, slow, reset := e.requestFaults(r.ContentLength != 0 && r.Body != http.NoBody, isCreateSessionRequest(r)); lat > 0 || slow || reset >= 0 {
		if !rc.applyFaults(lat, slow, reset) {
			return
		}
	}
	if err := rc.serve(); err != nil {
		rc.fail(err)
	}
}

func (rc *reqCtx) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	log.Printf("emulator: panic serving %s %s: %v", rc.r.Method, rc.r.RequestURI, v)
	if rc.w.wrote {
		panic(http.ErrAbortHandler)
	}
	rc.fail(errInternal)
}

// fail answers err and counts the rejection.
func (rc *reqCtx) fail(err *s3Error) {
	rc.e.stats.rejections.inc(err.Code)
	if rc.w.wrote {
		panic(http.ErrAbortHandler) // too late for an error document: cut the response
	}
	// Drain a little of an unread body so a keep-alive connection can be
	// reused for small requests; large ones are closed by net/http.
	// With Expect: 100-continue nothing is read, so the client never sends
	// the body of a rejected upload (net/http then closes the connection).
	if rc.r.Body != nil && rc.r.Header.Get("Expect") == "" {
		_, _ = io.CopyN(io.Discard, rc.r.Body, 64<<10)
	}
	renderError(rc.w, rc.r, err, rc.id, rc.hostID)
}

// applyFaults applies injected latency, SlowDown and connection resets. It
// reports whether the request should still be served.
func (rc *reqCtx) applyFaults(lat time.Duration, slow bool, reset int64) bool {
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-rc.r.Context().Done():
			t.Stop()
			return false
		}
	}
	if reset >= 0 {
		_, _ = io.CopyN(io.Discard, rc.r.Body, reset)
		rc.e.stats.rejections.inc("ConnectionReset")
		resetConn(rc.w.ResponseWriter)
		return false
	}
	if slow {
		rc.fail(errSlowDown)
		return false
	}
	return true
}

// isCreateSessionRequest reports a CreateSession call (GET ?session), for
// the faults that target the control plane or spare it.
func isCreateSessionRequest(r *http.Request) bool {
	_, q, _ := strings.Cut(r.RequestURI, "?")
	for _, p := range strings.Split(q, "&") {
		if p == "session" || strings.HasPrefix(p, "session=") {
			return r.Method == http.MethodGet
		}
	}
	return false
}

// resetConn closes the client connection with a TCP RST (SO_LINGER 0).
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := underlyingTCP(conn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func underlyingTCP(c net.Conn) (*net.TCPConn, bool) {
	type netConner interface{ NetConn() net.Conn }
	for {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, true
		case netConner:
			c = v.NetConn()
		default:
			return nil, false
		}
	}
}

// serve routes, authenticates, authorizes and dispatches one request.
func (rc *reqCtx) serve() *s3Error {
	r := rc.r
	if headerBytes(r.Header) > maxHeaderBytes {
		return newErr(http.StatusBadRequest, "RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size.")
	}
	rc.hi = rc.e.hosts.get(r.Host)
	rawPath, rawQuery := splitRequestURI(r.RequestURI)
	q, err := parseQuery(rawQuery)
	if err != nil {
		return err
	}
	rc.q = q
	path, ok := unescape(rawPath)
	if !ok || !strings.HasPrefix(path, "/") {
		return errInvalidURI
	}
	rc.canonPath = uriEncode(path, true)
	if err := rc.route(path); err != nil {
		rc.countOp()
		return err
	}
	rc.countOp()
	if err := rc.authenticate(); err != nil {
		return err
	}
	if err := rc.authorize(); err != nil {
		return err
	}
	if err := rc.checkHeaders(); err != nil {
		return err
	}
	return rc.dispatch()
}

// maxHeaderBytes is S3's request header limit (8 KB, "PUT request header
// is limited to 8 KB"), counted as names plus values.
const maxHeaderBytes = 8 << 10

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (rc *reqCtx) countOp() {
	if rc.op == "" {
		rc.op = "Unknown"
	}
	rc.e.stats.requests.inc(rc.op)
}

// route sets bucketName, key and op from the host, path and query.
func (rc *reqCtx) route(path string) *s3Error {
	hi := rc.hi
	switch hi.kind {
	case hostZonal:
		if hi.bucket == "" {
			// Path-style on a Zonal endpoint: S3 documents it as unsupported
			// (protocol notes 1.3, 7).
			return newErr(http.StatusBadRequest, "InvalidRequest", "Path-style requests are not supported on Zonal endpoints; use virtual-hosted-style requests.")
		}
		rc.bucketName, rc.key = hi.bucket, path[1:]
		rc.op = rc.objectOrBucketOp()
	case hostControl:
		if hi.bucket != "" {
			return newErr(http.StatusBadRequest, "InvalidRequest", "Virtual-hosted-style requests are not supported on the regional endpoint; use path-style requests.")
		}
		b, rest, _ := strings.Cut(path[1:], "/")
		if rest != "" {
			return newErr(http.StatusBadRequest, "InvalidRequest", "Object operations are not supported on the regional endpoint.")
		}
		rc.bucketName = b
		rc.op = rc.controlOp()
	case hostGeneral:
		if hi.bucket != "" {
			rc.bucketName, rc.key = hi.bucket, path[1:]
		} else {
			rc.bucketName, rc.key, _ = strings.Cut(path[1:], "/")
		}
		if rc.bucketName == "" {
			if rc.r.Method == http.MethodGet {
				rc.op = "ListBuckets"
				return nil
			}
			return errMethodNotAllowed
		}
		rc.op = rc.objectOrBucketOp()
	default:
		return newErr(http.StatusBadRequest, "InvalidRequest", "The emulator does not serve host "+rc.r.Host)
	}
	if rc.op == "" {
		return errNotImplemented
	}
	return nil
}

// unsupportedSubresources are bucket/object subresources S3 Express does
// not support (protocol notes 7).
var unsupportedSubresources = []string{"acl", "tagging", "versions", "versioning", "cors", "website",
	"replication", "logging", "notification", "ownershipControls", "publicAccessBlock", "object-lock",
	"retention", "legal-hold", "restore", "select", "torrent", "accelerate", "requestPayment", "location", "renameObject"}

func (rc *reqCtx) objectOrBucketOp() string {
	q := rc.q
	for _, s := range unsupportedSubresources {
		if q.has(s) {
			return ""
		}
	}
	m := rc.r.Method
	if rc.key == "" {
		switch {
		case m == http.MethodGet && q.has("session"):
			return "CreateSession"
		case m == http.MethodGet && q.get("list-type") == "2":
			return "ListObjectsV2"
		case m == http.MethodGet && q.has("uploads"):
			return "ListMultipartUploads"
		case m == http.MethodGet:
			return "ListObjects"
		case m == http.MethodHead:
			return "HeadBucket"
		case m == http.MethodPost && q.has("delete"):
			return "DeleteObjects"
		case m == http.MethodPut && rc.hi.kind == hostGeneral:
			return "CreateBucket"
		case m == http.MethodDelete && rc.hi.kind == hostGeneral:
			return "DeleteBucket"
		}
		return ""
	}
	copySrc := rc.r.Header.Get("X-Amz-Copy-Source") != ""
	switch m {
	case http.MethodPut:
		switch {
		case q.has("uploadId") && copySrc:
			return "UploadPartCopy"
		case q.has("uploadId"):
			return "UploadPart"
		case copySrc:
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodGet:
		switch {
		case q.has("uploadId"):
			return "ListParts"
		case q.has("attributes"):
			return "GetObjectAttributes"
		}
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodDelete:
		if q.has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			return "CreateMultipartUpload"
		case q.has("uploadId"):
			return "CompleteMultipartUpload"
		}
	}
	return ""
}

func (rc *reqCtx) controlOp() string {
	for _, s := range unsupportedSubresources {
		if rc.q.has(s) {
			return ""
		}
	}
	switch {
	case rc.bucketName == "" && rc.r.Method == http.MethodGet:
		return "ListDirectoryBuckets"
	case rc.bucketName != "" && rc.r.Method == http.MethodPut && len(rc.q.pairs) == 0:
		return "CreateBucket"
	case rc.bucketName != "" && rc.r.Method == http.MethodDelete && len(rc.q.pairs) == 0:
		return "DeleteBucket"
	}
	return ""
}

// iamOnlyOps must be signed with IAM credentials on a Zonal host
// (protocol notes 3.1).
var iamOnlyOps = map[string]bool{"CreateSession": true, "CopyObject": true, "UploadPartCopy": true}

// authenticate verifies the signature and resolves the principal.
func (rc *reqCtx) authenticate() *s3Error {
	sig, err := parseSignature(rc.r, rc.q)
	if err != nil {
		return err
	}
	if sig == nil {
		return errAccessDenied
	}
	rc.sig = sig
	if err := sig.checkScope(rc.r, rc.hi, rc.now); err != nil {
		return err
	}
	token := rc.r.Header.Get("X-Amz-S3session-Token")
	if sig.presigned && token == "" {
		token = rc.q.get("X-Amz-S3session-Token")
	}
	if token == "" {
		return rc.authenticateIAM()
	}
	return rc.authenticateSession(token)
}

func (rc *reqCtx) authenticateIAM() *s3Error {
	secret, ok := rc.e.creds[rc.sig.akid]
	if !ok {
		return errInvalidAccessKeyID
	}
	key, err := rc.sig.verify(rc.r, rc.q, rc.canonPath, secret, &rc.e.keys)
	if err != nil {
		return err
	}
	rc.signingKey = key
	rc.e.stats.iam.inc(rc.op)
	if rc.hi.kind == hostZonal && !iamOnlyOps[rc.op] && rc.op != "HeadBucket" {
		return newErr(http.StatusForbidden, "AccessDenied", "Access Denied: this operation requires session-based authentication (x-amz-s3session-token).")
	}
	return nil
}

func (rc *reqCtx) authenticateSession(token string) *s3Error {
	if rc.op == "CreateSession" {
		return newErr(http.StatusBadRequest, "InvalidRequest", `CreateSession request should not include "x-amz-s3session-token"`)
	}
	if rc.hi.kind != hostZonal {
		return newErr(http.StatusBadRequest, "InvalidRequest", "x-amz-s3session-token is only valid on Zonal endpoints")
	}
	if rc.r.Header.Get("X-Amz-Security-Token") != "" || rc.q.has("X-Amz-Security-Token") {
		return newErr(http.StatusBadRequest, "InvalidRequest", "x-amz-security-token must not be sent with x-amz-s3session-token")
	}
	ss, expires := rc.e.sessions.lookup(token)
	if ss == nil {
		return errInvalidToken
	}
	if ss.akid != rc.sig.akid {
		return errInvalidAccessKeyID
	}
	key, err := rc.sig.verify(rc.r, rc.q, rc.canonPath, ss.secret, &rc.e.keys)
	if err != nil {
		return err
	}
	if !rc.now.Before(expires) {
		return errExpiredToken
	}
	rc.signingKey, rc.sess = key, ss
	rc.e.stats.session.inc(rc.op)
	return nil
}

// authorize applies bucket existence and the session rules.
func (rc *reqCtx) authorize() *s3Error {
	switch rc.op {
	case "ListDirectoryBuckets", "ListBuckets", "CreateBucket":
		return nil
	}
	b := rc.e.bucket(rc.bucketName)
	if b == nil || b.directory != (rc.hi.kind != hostGeneral) ||
		(rc.hi.kind == hostZonal && bucketZone(b.name) != rc.hi.zone) {
		return errNoSuchBucket
	}
	rc.b = b
	if rc.sess == nil {
		return nil
	}
	if rc.sess.bucket != b.name {
		return newErr(http.StatusForbidden, "AccessDenied", "Access Denied: the session token was issued for a different bucket.")
	}
	if iamOnlyOps[rc.op] {
		return newErr(http.StatusForbidden, "AccessDenied", "Access Denied: "+rc.op+" must be signed with IAM credentials, not session credentials.")
	}
	if rc.sess.mode == modeReadOnly && !readOnlyOps[rc.op] {
		return newErr(http.StatusForbidden, "AccessDenied", "Access Denied: a ReadOnly session cannot perform "+rc.op+".")
	}
	return nil
}

// checkHeaders rejects headers directory buckets do not support
// (protocol notes 7).
func (rc *reqCtx) checkHeaders() *s3Error {
	if rc.b == nil || !rc.b.directory {
		return nil
	}
	h := rc.r.Header
	for _, name := range []string{"X-Amz-Acl", "X-Amz-Grant-Read", "X-Amz-Grant-Write", "X-Amz-Grant-Read-Acp",
		"X-Amz-Grant-Write-Acp", "X-Amz-Grant-Full-Control", "X-Amz-Tagging", "X-Amz-Website-Redirect-Location",
		"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold",
		"X-Amz-Server-Side-Encryption-Customer-Algorithm"} {
		if _, ok := h[name]; ok {
			return errf(http.StatusNotImplemented, "NotImplemented", "This bucket does not support the %s header.", strings.ToLower(name))
		}
	}
	if h.Get("Content-Md5") != "" && rc.op != "DeleteObjects" {
		return errContentMD5
	}
	if sc := h.Get("X-Amz-Storage-Class"); sc != "" && sc != "EXPRESS_ONEZONE" {
		return errInvalidStorage
	}
	if sse := h.Get("X-Amz-Server-Side-Encryption"); sse != "" && sse != "AES256" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "The encryption method specified is not supported")
	}
	if v := rc.q.get("versionId"); rc.q.has("versionId") && v != "null" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid version id specified")
	}
	return nil
}

func (rc *reqCtx) dispatch() *s3Error {
	switch rc.op {
	case "CreateSession":
		return rc.createSession()
	case "PutObject":
		return rc.putObject()
	case "GetObject", "HeadObject":
		return rc.getObject()
	case "DeleteObject":
		return rc.deleteObject()
	case "DeleteObjects":
		return rc.deleteObjects()
	case "CopyObject":
		return rc.copyObject()
	case "GetObjectAttributes":
		return rc.getObjectAttributes()
	case "ListObjectsV2":
		return rc.listObjectsV2()
	case "ListObjects":
		return rc.listObjectsV1()
	case "HeadBucket":
		return rc.headBucket()
	case "CreateMultipartUpload":
		return rc.createMultipartUpload()
	case "UploadPart":
		return rc.uploadPart()
	case "UploadPartCopy":
		return rc.uploadPartCopy()
	case "CompleteMultipartUpload":
		return rc.completeMultipartUpload()
	case "AbortMultipartUpload":
		return rc.abortMultipartUpload()
	case "ListParts":
		return rc.listParts()
	case "ListMultipartUploads":
		return rc.listMultipartUploads()
	case "CreateBucket":
		return rc.createBucket()
	case "DeleteBucket":
		return rc.deleteBucket()
	case "ListDirectoryBuckets", "ListBuckets":
		return rc.listBuckets()
	}
	return errNotImplemented
}
