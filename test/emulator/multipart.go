package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxParts    = 10000
	minPartSize = 5 << 20
	ownerID     = "emulatorowner0000000000000000000000000000000000000000000000000001"
)

// upload is an in-progress multipart upload.
type upload struct {
	id, key   string
	initiated time.Time
	headers   http.Header
	alg       string // checksum algorithm, "" = none
	ctype     string // FULL_OBJECT | COMPOSITE when alg is set

	mu         sync.Mutex
	parts      map[int]*part // guarded by mu
	completing bool          // guarded by mu
}

type part struct {
	num      int
	size     int64
	etag     string
	checksum string
	modified time.Time
	data     blob
}

func (b *bucket) upload(id, key string) *upload {
	b.mu.RLock()
	defer b.mu.RUnlock()
	u := b.uploads[id]
	if u == nil || u.key != key {
		return nil
	}
	return u
}

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (rc *reqCtx) createMultipartUpload() *s3Error {
	h := rc.r.Header
	if metadataSize(h) > maxMetadata {
		return newErr(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size")
	}
	alg, ctype := h.Get("X-Amz-Checksum-Algorithm"), h.Get("X-Amz-Checksum-Type")
	if alg != "" {
		if alg = normAlg(alg); alg == "" {
			return newErr(http.StatusBadRequest, "InvalidRequest", "Checksum algorithm provided is unsupported.")
		}
		if ctype == "" {
			ctype = "COMPOSITE"
			if alg == algCRC64NVME {
				ctype = "FULL_OBJECT"
			}
		}
		if ctype != "COMPOSITE" && ctype != "FULL_OBJECT" ||
			ctype == "COMPOSITE" && alg == algCRC64NVME ||
			ctype == "FULL_OBJECT" && (alg == algSHA1 || alg == algSHA256) {
			return errf(http.StatusBadRequest, "InvalidRequest", "The %s checksum type cannot be used with the %s checksum algorithm.", strings.ToLower(ctype), strings.ToLower(alg))
		}
	} else if ctype != "" {
		return newErr(http.StatusBadRequest, "InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
	}
	u := &upload{id: randString(64, upperAlnum+lowerAlnum), key: rc.key, initiated: rc.now, headers: objectHeaders(h), alg: alg, ctype: ctype, parts: map[int]*part{}}
	rc.b.mu.Lock()
	rc.b.uploads[u.id] = u
	rc.b.mu.Unlock()
	if alg != "" {
		rc.w.Header().Set("X-Amz-Checksum-Algorithm", alg)
		rc.w.Header().Set("X-Amz-Checksum-Type", ctype)
	}
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	return rc.writeXML(initiateResult{NS: s3NS, Bucket: rc.b.name, Key: rc.key, UploadID: u.id})
}

func (rc *reqCtx) partTarget() (*upload, int, *s3Error) {
	pn, err := strconv.Atoi(rc.q.get("partNumber"))
	if err != nil || pn < 1 || pn > maxParts {
		return nil, 0, newErr(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	u := rc.b.upload(rc.q.get("uploadId"), rc.key)
	if u == nil {
		return nil, 0, errNoSuchUpload
	}
	return u, pn, nil
}

// storePart installs p in u, releasing a replaced part.
func (u *upload) storePart(p *part) *s3Error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.completing {
		p.data.release()
		return errNoSuchUpload
	}
	if old := u.parts[p.num]; old != nil {
		old.data.release()
	}
	u.parts[p.num] = p
	return nil
}

func (rc *reqCtx) uploadPart() *s3Error {
	u, pn, err := rc.partTarget()
	if err != nil {
		return err
	}
	if err := rc.checkUploadRequest(maxObjectSize); err != nil {
		return err
	}
	cs, err := parseChecksumSpec(rc.r.Header, u.alg)
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
	sum := body.checksum()
	p := &part{num: pn, size: data.size(), etag: newETag(), checksum: sum.value, modified: rc.now, data: data}
	if u.alg == "" {
		p.checksum = "" // not part of the upload's checksum; still verified above
	}
	if err := u.storePart(p); err != nil {
		return err
	}
	rc.w.Header().Set("ETag", p.etag)
	if sum.alg != "" {
		rc.w.Header().Set(checksumHeader(sum.alg), sum.value)
	}
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

func (rc *reqCtx) uploadPartCopy() *s3Error {
	u, pn, err := rc.partTarget()
	if err != nil {
		return err
	}
	src, err := rc.openCopySource()
	if err != nil {
		return err
	}
	defer src.rd.Close()
	br := byteRange{0, src.obj.size}
	if v := rc.r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		r, ok, rerr := parseRange(v, src.obj.size)
		if !ok || rerr != nil || strings.HasPrefix(v, "bytes=-") || strings.HasSuffix(v, "-") || r.off+r.n > src.obj.size {
			return errf(http.StatusBadRequest, "InvalidArgument", "Range specified is not valid for source object of size: %d", src.obj.size)
		}
		br = r
	}
	if br.n > maxObjectSize {
		return errEntityTooLarge
	}
	data, sum, cerr := rc.copyData(src, br.off, br.n, u.alg)
	if cerr != nil {
		return errInternal
	}
	p := &part{num: pn, size: br.n, etag: newETag(), checksum: sum.value, modified: rc.now, data: data}
	if err := u.storePart(p); err != nil {
		return err
	}
	res := copyResult{XMLName: xml.Name{Local: "CopyPartResult"}, NS: s3NS, ETag: p.etag, LastModified: s3Time(p.modified)}
	res.setChecksum(sum)
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	return rc.writeXML(res)
}

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
		copyResultChecksums
	} `xml:"Part"`
}

type completeResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	copyResultChecksums
}

func (c copyResultChecksums) value(alg string) string {
	switch alg {
	case algCRC32:
		return c.ChecksumCRC32
	case algCRC32C:
		return c.ChecksumCRC32C
	case algCRC64NVME:
		return c.ChecksumCRC64NVME
	case algSHA1:
		return c.ChecksumSHA1
	case algSHA256:
		return c.ChecksumSHA256
	}
	return ""
}

func (rc *reqCtx) completeMultipartUpload() *s3Error {
	u := rc.b.upload(rc.q.get("uploadId"), rc.key)
	if u == nil {
		return errNoSuchUpload
	}
	var req completeRequest
	if err := rc.readXMLBody(&req, 8<<20, !rc.b.directory); err != nil {
		return err
	}
	parts, err := u.beginComplete(req, rc.b.directory)
	if err != nil {
		return err
	}
	o, err := rc.assemble(u, parts)
	if err != nil {
		u.abortComplete()
		return err
	}
	h := rc.r.Header
	if err := rc.b.putIf(rc.key, o, func(old *object) *s3Error { return putCondition(h, old) }); err != nil {
		o.data.release()
		u.abortComplete()
		return err
	}
	rc.b.mu.Lock()
	delete(rc.b.uploads, u.id)
	rc.b.mu.Unlock()
	u.releaseParts()
	res := completeResult{NS: s3NS, Bucket: rc.b.name, Key: rc.key, ETag: o.etag,
		Location: "https://" + rc.r.Host + "/" + uriEncode(rc.key, true)}
	if o.checksum.alg != "" {
		res.copyResultChecksums = checksumElems(o.checksum)
	}
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	return rc.writeXML(res)
}

// beginComplete validates the part list against the upload and marks it
// completing, so concurrent part uploads and aborts fail.
func (u *upload) beginComplete(req completeRequest, directory bool) ([]*part, *s3Error) {
	if len(req.Parts) == 0 {
		return nil, errMalformedXML
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.completing {
		return nil, errNoSuchUpload
	}
	out := make([]*part, 0, len(req.Parts))
	for i, rp := range req.Parts {
		if i > 0 && rp.PartNumber <= req.Parts[i-1].PartNumber {
			return nil, errInvalidPartOrder
		}
		if directory && rp.PartNumber != i+1 {
			return nil, newErr(http.StatusBadRequest, "InvalidPartOrder", "Part numbers must start at 1 and be consecutive for directory buckets.")
		}
		p := u.parts[rp.PartNumber]
		if p == nil || !etagMatch(rp.ETag, p.etag) {
			return nil, errInvalidPart
		}
		if u.alg != "" {
			v := rp.copyResultChecksums.value(u.alg)
			if v == "" && u.ctype == "COMPOSITE" {
				return nil, errf(http.StatusBadRequest, "InvalidRequest", "The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.", strings.ToLower(u.alg), rp.PartNumber)
			}
			if v != "" && v != p.checksum {
				return nil, errInvalidPart
			}
		}
		out = append(out, p)
	}
	for _, p := range out[:len(out)-1] {
		if p.size < minPartSize {
			return nil, errEntityTooSmall
		}
	}
	u.completing = true
	return out, nil
}

func (u *upload) abortComplete() {
	u.mu.Lock()
	u.completing = false
	u.mu.Unlock()
}

func (u *upload) releaseParts() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.parts {
		p.data.release()
	}
	u.parts = nil
}

// assemble joins the parts into an object and computes its checksum.
func (rc *reqCtx) assemble(u *upload, parts []*part) (*object, *s3Error) {
	blobs := make([]blob, len(parts))
	meta := make([]partMeta, len(parts))
	sums := make([]string, len(parts))
	for i, p := range parts {
		blobs[i], meta[i], sums[i] = p.data, partMeta{p.size, p.checksum}, p.checksum
	}
	data, err := rc.e.store.concat(blobs)
	if err != nil {
		return nil, errInternal
	}
	o := &object{key: u.key, size: data.size(), modified: rc.now, headers: u.headers, parts: meta, data: data,
		etag: `"` + randString(32, lowerHex) + "-" + strconv.Itoa(len(parts)) + `"`}
	if u.alg == "" {
		return o, nil
	}
	given := rc.r.Header.Get(checksumHeader(u.alg))
	switch u.ctype {
	case "COMPOSITE":
		v, ok := compositeChecksum(u.alg, sums)
		if !ok {
			data.release()
			return nil, errInternal
		}
		if given != "" && given != v && given != strings.Split(v, "-")[0] {
			data.release()
			return nil, errf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", u.alg)
		}
		o.checksum = checksumOf{alg: u.alg, value: v, typ: "COMPOSITE"}
	case "FULL_OBJECT":
		v := given
		if _, discard := rc.e.store.(discardStore); !discard {
			v = fullChecksum(u.alg, data)
			if given != "" && given != v {
				data.release()
				return nil, errf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", u.alg)
			}
		}
		if v != "" {
			o.checksum = checksumOf{alg: u.alg, value: v, typ: "FULL_OBJECT"}
		}
	}
	return o, nil
}

// fullChecksum reads a freshly assembled blob (owned by the caller, so
// safe to open without a bucket lock).
func fullChecksum(alg string, b blob) string {
	rd, err := b.open()
	if err != nil {
		return ""
	}
	defer rd.Close()
	h := newChecksum(alg)
	if _, err := io.Copy(h, io.NewSectionReader(rd, 0, b.size())); err != nil {
		return ""
	}
	return sumBase64(h)
}

func (rc *reqCtx) abortMultipartUpload() *s3Error {
	rc.b.mu.Lock()
	u := rc.b.uploads[rc.q.get("uploadId")]
	if u == nil || u.key != rc.key {
		rc.b.mu.Unlock()
		return errNoSuchUpload
	}
	u.mu.Lock() // lock order: bucket, then upload
	busy := u.completing
	u.completing = true
	u.mu.Unlock()
	if busy { // a Complete is assembling the parts
		rc.b.mu.Unlock()
		return errNoSuchUpload
	}
	delete(rc.b.uploads, u.id)
	rc.b.mu.Unlock()
	u.releaseParts()
	rc.w.WriteHeader(http.StatusNoContent)
	return nil
}

type owner struct {
	ID string `xml:"ID"`
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	NS                   string     `xml:"xmlns,attr"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []listPart `xml:"Part"`
	Initiator            owner      `xml:"Initiator"`
	Owner                owner      `xml:"Owner"`
	StorageClass         string     `xml:"StorageClass"`
	ChecksumAlgorithm    string     `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType         string     `xml:"ChecksumType,omitempty"`
}

type listPart struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	copyResultChecksums
}

func intParam(q *query, name string, def, max int) (int, *s3Error) {
	v := q.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errf(http.StatusBadRequest, "InvalidArgument", "Provided %s not an integer or within integer range", name)
	}
	return min(n, max), nil
}

func (rc *reqCtx) listParts() *s3Error {
	u := rc.b.upload(rc.q.get("uploadId"), rc.key)
	if u == nil {
		return errNoSuchUpload
	}
	maxP, err := intParam(rc.q, "max-parts", 1000, 1000)
	if err != nil {
		return err
	}
	marker, err := intParam(rc.q, "part-number-marker", 0, maxParts)
	if err != nil {
		return err
	}
	u.mu.Lock()
	nums := make([]int, 0, len(u.parts))
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := listPartsResult{NS: s3NS, Bucket: rc.b.name, Key: u.key, UploadID: u.id, PartNumberMarker: marker, MaxParts: maxP,
		Initiator: owner{ownerID}, Owner: owner{ownerID}, StorageClass: rc.storageClass(), ChecksumAlgorithm: u.alg, ChecksumType: u.ctype}
	for _, n := range nums {
		if len(res.Parts) == maxP {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		lp := listPart{PartNumber: n, LastModified: s3Time(p.modified), ETag: p.etag, Size: p.size}
		if u.alg != "" {
			lp.copyResultChecksums = checksumElems(checksumOf{alg: u.alg, value: p.checksum})
			lp.ChecksumType = ""
		}
		res.Parts = append(res.Parts, lp)
		res.NextPartNumberMarker = n
	}
	u.mu.Unlock()
	return rc.writeXML(res)
}
