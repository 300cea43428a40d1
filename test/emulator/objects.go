package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	s3NS           = "http://s3.amazonaws.com/doc/2006-03-01/"
	maxObjectSize  = 5 << 30
	maxMetadata    = 2 << 10
	storageExpress = "EXPRESS_ONEZONE"
)

// writeXML answers 200 with an XML document.
func (rc *reqCtx) writeXML(v any) *s3Error {
	out, err := xml.Marshal(v)
	if err != nil {
		return errInternal
	}
	h := rc.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
	rc.w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(rc.w, xml.Header)
	_, _ = rc.w.Write(out)
	return nil
}

func (rc *reqCtx) storageClass() string {
	if rc.b != nil && rc.b.directory {
		return storageExpress
	}
	return "STANDARD"
}

type createSessionResult struct {
	XMLName     xml.Name `xml:"CreateSessionResult"`
	NS          string   `xml:"xmlns,attr"`
	Credentials struct {
		SessionToken    string `xml:"SessionToken"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		AccessKeyID     string `xml:"AccessKeyId"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
}

// createSession issues session credentials (protocol notes 2).
func (rc *reqCtx) createSession() *s3Error {
	mode := rc.r.Header.Get("X-Amz-Create-Session-Mode")
	switch mode {
	case "":
		mode = modeReadWrite
	case modeReadOnly, modeReadWrite:
	default:
		return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid session mode: "+mode)
	}
	if err := rc.e.takeCreateSessionFault(); err != nil {
		return err
	}
	if rc.e.takeMalformedCreateSession() {
		rc.e.stats.rejections.inc("MalformedCreateSession")
		rc.w.Header().Set("Content-Type", "application/xml")
		rc.w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(rc.w, "<?xml version=\"1.0\"?><CreateSessionResult><Credentials><SessionToken>")
		return nil
	}
	ss := rc.e.sessions.create(rc.b.name, mode, rc.sig.akid, rc.now, rc.e.opts.SessionTTL)
	rc.e.stats.createSessions.inc(rc.b.name + "/" + mode)
	var res createSessionResult
	res.NS = s3NS
	res.Credentials.SessionToken = ss.token
	res.Credentials.SecretAccessKey = ss.secret
	res.Credentials.AccessKeyID = ss.akid
	res.Credentials.Expiration = ss.expires.UTC().Format(time.RFC3339)
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	return rc.writeXML(res)
}

func (rc *reqCtx) headBucket() *s3Error {
	h := rc.w.Header()
	h.Set("X-Amz-Bucket-Region", rc.hi.region)
	if rc.b.directory {
		h.Set("X-Amz-Bucket-Location-Type", "AvailabilityZone")
		h.Set("X-Amz-Bucket-Location-Name", rc.hi.zone)
	}
	h.Set("X-Amz-Access-Point-Alias", "false")
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

// checkUploadRequest validates what every body upload needs: a length
// and user metadata within limits.
func (rc *reqCtx) checkUploadRequest(limit int64) *s3Error {
	r := rc.r
	if r.ContentLength < 0 {
		return errMissingLength
	}
	n := r.ContentLength
	if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil || d < 0 {
			return newErr(http.StatusBadRequest, "InvalidArgument", "x-amz-decoded-content-length is not a valid length")
		}
		n = d
	}
	if n > limit {
		return errEntityTooLarge
	}
	if metadataSize(r.Header) > maxMetadata {
		return newErr(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size")
	}
	return nil
}

// putCondition checks If-Match / If-None-Match of a write against the
// current object (nil when absent).
func putCondition(h http.Header, old *object) *s3Error {
	if inm := h.Get("If-None-Match"); inm != "" {
		if inm != "*" {
			return newErr(http.StatusNotImplemented, "NotImplemented", "If-None-Match only supports *")
		}
		if old != nil {
			return errPreconditionFailed
		}
	}
	if im := h.Get("If-Match"); im != "" {
		if old == nil {
			return errNoSuchKey
		}
		if !etagMatch(im, old.etag) {
			return errPreconditionFailed
		}
	}
	return nil
}

func etagMatch(list, etag string) bool {
	for _, t := range splitList(list) {
		if t == "*" || t == etag || `"`+strings.Trim(t, `"`)+`"` == etag {
			return true
		}
	}
	return false
}

func (rc *reqCtx) putObject() *s3Error {
	if err := rc.checkUploadRequest(maxObjectSize); err != nil {
		return err
	}
	h := rc.r.Header
	if err := putCondition(h, rc.b.get(rc.key)); err != nil {
		return err
	}
	cs, err := parseChecksumSpec(h, "")
	if err != nil {
		return err
	}
	body, err := rc.openBody(cs, !rc.b.directory)
	if err != nil {
		return err
	}
	data, rerr := rc.e.store.put(body, rc.r.ContentLength)
	if rerr != nil {
		return readErr(rerr)
	}
	o := &object{key: rc.key, size: data.size(), etag: newETag(), modified: rc.now, headers: objectHeaders(h), checksum: body.checksum(), data: data}
	if err := rc.b.putIf(rc.key, o, func(old *object) *s3Error { return putCondition(h, old) }); err != nil {
		data.release()
		return err
	}
	out := rc.w.Header()
	out.Set("ETag", o.etag)
	rc.setChecksumHeaders(o.checksum)
	out.Set("X-Amz-Server-Side-Encryption", "AES256")
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

// putIf stores o if cond(old) passes, under the lock.
func (b *bucket) putIf(key string, o *object, cond func(old *object) *s3Error) *s3Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.objects[key]
	if err := cond(old); err != nil {
		if err == errPreconditionFailed {
			return newErr(http.StatusConflict, "ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.")
		}
		return err
	}
	b.objects[key] = o
	if old != nil && old.data != o.data {
		old.data.release()
	}
	return nil
}

func (rc *reqCtx) setChecksumHeaders(c checksumOf) {
	if c.alg == "" {
		return
	}
	h := rc.w.Header()
	h.Set(checksumHeader(c.alg), c.value)
	h.Set("X-Amz-Checksum-Type", c.typ)
}

func (rc *reqCtx) deleteObject() *s3Error {
	h := rc.r.Header
	err := rc.b.deleteIf(rc.key, func(o *object) *s3Error {
		if im := h.Get("If-Match"); im != "" && (o == nil || !etagMatch(im, o.etag)) {
			if o == nil {
				return errNoSuchKey
			}
			return errPreconditionFailed
		}
		if v := h.Get("X-Amz-If-Match-Size"); v != "" && (o == nil || strconv.FormatInt(o.size, 10) != v) {
			return errPreconditionFailed
		}
		if v := h.Get("X-Amz-If-Match-Last-Modified-Time"); v != "" {
			t, err := http.ParseTime(v)
			if err != nil || o == nil || !t.Equal(o.modified.Truncate(time.Second)) {
				return errPreconditionFailed
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rc.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (b *bucket) deleteIf(key string, cond func(*object) *s3Error) *s3Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.objects[key]
	if err := cond(o); err != nil {
		return err
	}
	if o != nil {
		delete(b.objects, key)
		o.data.release()
	}
	return nil
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
		ETag      string `xml:"ETag"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	NS      string          `xml:"xmlns,attr"`
	Deleted []deletedEntry  `xml:"Deleted"`
	Errors  []deleteErrItem `xml:"Error"`
}

type deletedEntry struct {
	Key string `xml:"Key"`
}

type deleteErrItem struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// readXMLBody reads a bounded XML request body, verified by openBody, and
// decodes it into v.
func (rc *reqCtx) readXMLBody(v any, limit int64, md5OK bool) *s3Error {
	cs, err := parseChecksumSpec(rc.r.Header, "")
	if err != nil {
		return err
	}
	body, err := rc.openBody(cs, md5OK)
	if err != nil {
		return err
	}
	raw, rerr := io.ReadAll(io.LimitReader(body, limit+1))
	if rerr != nil {
		return readErr(rerr)
	}
	if int64(len(raw)) > limit {
		return errMalformedXML
	}
	if len(raw) == 0 {
		return newErr(http.StatusBadRequest, "MissingRequestBodyError", "Request Body is empty")
	}
	if xml.Unmarshal(raw, v) != nil {
		return errMalformedXML
	}
	return nil
}

func (rc *reqCtx) deleteObjects() *s3Error {
	h := rc.r.Header
	hasChecksum := h.Get("X-Amz-Trailer") != ""
	for _, a := range checksumAlgs {
		hasChecksum = hasChecksum || h.Get(checksumHeader(a)) != ""
	}
	if h.Get("Content-Md5") == "" && !hasChecksum {
		return newErr(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: Content-MD5 OR x-amz-checksum-*")
	}
	var req deleteRequest
	if err := rc.readXMLBody(&req, 2<<20, true); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errMalformedXML
	}
	res := deleteResult{NS: s3NS}
	for _, ob := range req.Objects {
		switch {
		case ob.Key == "" || len(ob.Key) > 1024:
			res.Errors = append(res.Errors, deleteErrItem{ob.Key, "InvalidArgument", "Invalid key"})
		case ob.VersionID != "" && ob.VersionID != "null":
			res.Errors = append(res.Errors, deleteErrItem{ob.Key, "NoSuchVersion", "The specified version does not exist."})
		default:
			err := rc.b.deleteIf(ob.Key, func(o *object) *s3Error {
				if ob.ETag != "" && (o == nil || !etagMatch(ob.ETag, o.etag)) {
					return errPreconditionFailed
				}
				return nil
			})
			if err != nil {
				res.Errors = append(res.Errors, deleteErrItem{ob.Key, err.Code, err.Message})
			} else if !req.Quiet {
				res.Deleted = append(res.Deleted, deletedEntry{ob.Key})
			}
		}
	}
	return rc.writeXML(res)
}
