package emulator

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// byteRange is a resolved range [off, off+n).
type byteRange struct{ off, n int64 }

// parseRange resolves a single-range "bytes=" header against size. ok is
// false when the header is absent or ignored (S3 ignores multiple ranges and
// malformed syntax); err is set when the range cannot be satisfied.
func parseRange(v string, size int64) (br byteRange, ok bool, err *s3Error) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return br, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return br, false, nil
	}
	if a == "" {
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n < 0 {
			return br, false, nil
		}
		if n == 0 || size == 0 {
			return br, false, errInvalidRange
		}
		n = min(n, size)
		return byteRange{size - n, n}, true, nil
	}
	start, perr := strconv.ParseInt(a, 10, 64)
	if perr != nil || start < 0 {
		return br, false, nil
	}
	end := size - 1
	if b != "" {
		e, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || e < start {
			return br, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return br, false, errInvalidRange
	}
	return byteRange{start, end - start + 1}, true, nil
}

// checkReadConditions evaluates If-Match, If-Unmodified-Since,
// If-None-Match and If-Modified-Since as S3 does (RFC 7232 order, with
// S3's rule that a true If-Match overrides a false If-Unmodified-Since and a
// false If-None-Match overrides a true If-Modified-Since). notModified
// reports a 304.
func checkReadConditions(h http.Header, o *object) (notModified bool, err *s3Error) {
	mod := o.modified.Truncate(time.Second)
	im, inm := h.Get("If-Match"), h.Get("If-None-Match")
	if im != "" {
		if !etagMatch(im, o.etag) {
			return false, errPreconditionFailed
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, perr := http.ParseTime(v); perr == nil && mod.After(t) {
			return false, errPreconditionFailed
		}
	}
	if inm != "" {
		if etagMatch(inm, o.etag) {
			return true, nil
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, perr := http.ParseTime(v); perr == nil && !mod.After(t) {
			return true, nil
		}
	}
	return false, nil
}

var responseOverrides = [][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

func (rc *reqCtx) getObject() *s3Error {
	o, rd, oerr := rc.b.openObject(rc.key)
	if oerr != nil {
		return errInternal
	}
	if o == nil {
		return errNoSuchKey
	}
	defer rd.Close()
	h := rc.w.Header()
	h.Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	h.Set("ETag", o.etag)
	notMod, err := checkReadConditions(rc.r.Header, o)
	if err != nil {
		return err
	}
	if notMod {
		rc.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	full := byteRange{0, o.size}
	br, partial, err := rc.readRange(o)
	if err != nil {
		return err
	}
	if !partial {
		br = full
	}
	rc.setObjectHeaders(o, partial)
	h.Set("Content-Length", strconv.FormatInt(br.n, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(br.off, 10)+"-"+strconv.FormatInt(br.off+br.n-1, 10)+"/"+strconv.FormatInt(o.size, 10))
		status = http.StatusPartialContent
	}
	rc.w.WriteHeader(status)
	if rc.r.Method == http.MethodHead || br.n == 0 {
		return nil
	}
	if k := rc.e.takeResponseReset(); k >= 0 {
		rc.e.stats.rejections.inc("ResponseReset")
		_, _ = io.Copy(rc.w, io.NewSectionReader(rd, br.off, min(k, br.n)))
		_ = http.NewResponseController(rc.w.ResponseWriter).Flush()
		resetConn(rc.w.ResponseWriter)
		return nil
	}
	if mb, ok := o.data.(*memBlob); ok { // fast path: no copy buffer
		if _, werr := rc.w.Write(mb.b[br.off : br.off+br.n]); werr != nil {
			panic(http.ErrAbortHandler)
		}
		return nil
	}
	if _, werr := io.Copy(rc.w, io.NewSectionReader(rd, br.off, br.n)); werr != nil {
		panic(http.ErrAbortHandler) // client went away or storage failed mid-body
	}
	return nil
}

// setObjectHeaders sets the stored and computed headers of a GET/HEAD.
func (rc *reqCtx) setObjectHeaders(o *object, partial bool) {
	h := rc.w.Header()
	for k, v := range o.headers {
		h[k] = append([]string(nil), v...) // stored headers are shared by copies
	}
	for _, ov := range responseOverrides {
		if v := rc.q.get(ov[0]); v != "" {
			h.Set(ov[1], v)
		}
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Amz-Server-Side-Encryption", "AES256")
	if rc.b.directory {
		h.Set("X-Amz-Storage-Class", storageExpress)
	}
	if len(o.parts) > 0 && rc.q.has("partNumber") {
		h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(len(o.parts)))
	}
	if !partial && strings.EqualFold(rc.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		if _, discard := rc.e.store.(discardStore); !discard {
			rc.setChecksumHeaders(o.checksum)
		}
	}
}

// readRange resolves Range or partNumber for a GET/HEAD.
func (rc *reqCtx) readRange(o *object) (byteRange, bool, *s3Error) {
	rangeHdr := rc.r.Header.Get("Range")
	if !rc.q.has("partNumber") {
		if rangeHdr == "" {
			return byteRange{}, false, nil
		}
		return parseRange(rangeHdr, o.size)
	}
	if rangeHdr != "" {
		return byteRange{}, false, newErr(http.StatusBadRequest, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
	}
	pn, perr := strconv.Atoi(rc.q.get("partNumber"))
	if perr != nil || pn < 1 || pn > maxParts {
		return byteRange{}, false, newErr(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	if len(o.parts) == 0 {
		if pn != 1 {
			return byteRange{}, false, newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable")
		}
		return byteRange{0, o.size}, true, nil
	}
	if pn > len(o.parts) {
		return byteRange{}, false, newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", "The requested partnumber is not satisfiable")
	}
	var off int64
	for _, p := range o.parts[:pn-1] {
		off += p.size
	}
	return byteRange{off, o.parts[pn-1].size}, true, nil
}
