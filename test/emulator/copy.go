package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// copySource is a resolved x-amz-copy-source with its data opened.
type copySource struct {
	obj *object
	rd  readerAtCloser
}

// openCopySource parses x-amz-copy-source ("[/]bucket/key[?versionId=null]",
// URL-encoded), opens the object and checks the copy-source conditions.
func (rc *reqCtx) openCopySource() (*copySource, *s3Error) {
	raw := rc.r.Header.Get("X-Amz-Copy-Source")
	raw, ver, hasVer := strings.Cut(raw, "?")
	if hasVer && ver != "versionId=null" {
		return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Invalid version id specified")
	}
	src, ok := unescape(strings.TrimPrefix(raw, "/"))
	bname, key, found := strings.Cut(src, "/")
	if !ok || !found || bname == "" || key == "" {
		return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	sb := rc.e.bucket(bname)
	if sb == nil {
		return nil, errNoSuchBucket
	}
	o, rd, err := sb.openObject(key)
	if err != nil {
		return nil, errInternal
	}
	if o == nil {
		return nil, errNoSuchKey
	}
	if e := copyConditions(rc.r.Header, o); e != nil {
		rd.Close()
		return nil, e
	}
	return &copySource{obj: o, rd: rd}, nil
}

func copyConditions(h http.Header, o *object) *s3Error {
	mod := o.modified.Truncate(time.Second)
	if v := h.Get("X-Amz-Copy-Source-If-Match"); v != "" && !etagMatch(v, o.etag) {
		return errPreconditionFailed
	}
	if v := h.Get("X-Amz-Copy-Source-If-None-Match"); v != "" && etagMatch(v, o.etag) {
		return errPreconditionFailed
	}
	if v := h.Get("X-Amz-Copy-Source-If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) && h.Get("X-Amz-Copy-Source-If-Match") == "" {
			return errPreconditionFailed
		}
	}
	if v := h.Get("X-Amz-Copy-Source-If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) && h.Get("X-Amz-Copy-Source-If-None-Match") == "" {
			return errPreconditionFailed
		}
	}
	return nil
}

type copyResult struct {
	XMLName           xml.Name
	NS                string `xml:"xmlns,attr"`
	ETag              string `xml:"ETag"`
	LastModified      string `xml:"LastModified"`
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

func (c *copyResult) setChecksum(cs checksumOf) {
	switch cs.alg {
	case algCRC32:
		c.ChecksumCRC32 = cs.value
	case algCRC32C:
		c.ChecksumCRC32C = cs.value
	case algCRC64NVME:
		c.ChecksumCRC64NVME = cs.value
	case algSHA1:
		c.ChecksumSHA1 = cs.value
	case algSHA256:
		c.ChecksumSHA256 = cs.value
	}
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// copyData copies n bytes at off of src into a new blob, computing alg's
// checksum on the way when alg is set.
func (rc *reqCtx) copyData(src *copySource, off, n int64, alg string) (blob, checksumOf, error) {
	var r io.Reader = io.NewSectionReader(src.rd, off, n)
	if alg == "" {
		if ms, ok := rc.e.store.(memStore); ok {
			b, err := ms.slice(src.obj.data, off, n)
			return b, checksumOf{}, err
		}
	}
	sum := newChecksum(alg)
	if sum != nil {
		r = io.TeeReader(r, sum)
	}
	b, err := rc.e.store.put(r, n)
	if err != nil || sum == nil {
		return b, checksumOf{}, err
	}
	return b, checksumOf{alg: normAlg(alg), value: sumBase64(sum), typ: "FULL_OBJECT"}, nil
}

func (rc *reqCtx) copyObject() *s3Error {
	h := rc.r.Header
	directive := h.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "Unknown metadata directive.")
	}
	alg := h.Get("X-Amz-Checksum-Algorithm")
	if alg != "" && normAlg(alg) == "" {
		return newErr(http.StatusBadRequest, "InvalidRequest", "Checksum algorithm provided is unsupported.")
	}
	if metadataSize(h) > maxMetadata {
		return newErr(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size")
	}
	src, err := rc.openCopySource()
	if err != nil {
		return err
	}
	defer src.rd.Close()
	if src.obj.size > maxObjectSize {
		return newErr(http.StatusBadRequest, "InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	srcBucket, _ := unescape(strings.SplitN(strings.TrimPrefix(h.Get("X-Amz-Copy-Source"), "/"), "/", 2)[0])
	if srcBucket == rc.b.name && src.obj.key == rc.key && directive != "REPLACE" && alg == "" {
		return newErr(http.StatusBadRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	data, sum, cerr := rc.copyData(src, 0, src.obj.size, alg)
	if cerr != nil {
		return errInternal
	}
	if alg == "" && src.obj.checksum.typ == "FULL_OBJECT" {
		sum = src.obj.checksum
	}
	headers := src.obj.headers
	if directive == "REPLACE" {
		headers = objectHeaders(h)
	}
	o := &object{key: rc.key, size: src.obj.size, etag: newETag(), modified: rc.now, headers: headers, checksum: sum, data: data}
	if err := rc.b.putIf(rc.key, o, func(old *object) *s3Error { return putCondition(h, old) }); err != nil {
		data.release()
		return err
	}
	res := copyResult{XMLName: xml.Name{Local: "CopyObjectResult"}, NS: s3NS, ETag: o.etag, LastModified: s3Time(o.modified)}
	res.setChecksum(sum)
	if sum.alg != "" {
		res.ChecksumType = sum.typ
	}
	rc.w.Header().Set("X-Amz-Server-Side-Encryption", "AES256")
	return rc.writeXML(res)
}

type attributesResult struct {
	XMLName  xml.Name `xml:"GetObjectAttributesResponse"`
	NS       string   `xml:"xmlns,attr"`
	ETag     string   `xml:"ETag,omitempty"`
	Checksum *struct {
		copyResultChecksums
	} `xml:"Checksum,omitempty"`
	ObjectParts  *attrParts `xml:"ObjectParts,omitempty"`
	StorageClass string     `xml:"StorageClass,omitempty"`
	ObjectSize   *int64     `xml:"ObjectSize,omitempty"`
}

// copyResultChecksums is the Checksum* element group.
type copyResultChecksums struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

func checksumElems(cs checksumOf) copyResultChecksums {
	var c copyResult
	c.setChecksum(cs)
	return copyResultChecksums{c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME, c.ChecksumSHA1, c.ChecksumSHA256, cs.typ}
}

type attrParts struct {
	PartsCount           int        `xml:"PartsCount"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []attrPart `xml:"Part"`
}

type attrPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	copyResultChecksums
}

var validAttributes = map[string]bool{"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true}

func (rc *reqCtx) getObjectAttributes() *s3Error {
	want := map[string]bool{}
	for _, v := range rc.r.Header.Values("X-Amz-Object-Attributes") {
		for _, a := range splitList(v) {
			if !validAttributes[a] {
				return newErr(http.StatusBadRequest, "InvalidArgument", "Invalid attribute name specified.")
			}
			want[a] = true
		}
	}
	if len(want) == 0 {
		return newErr(http.StatusBadRequest, "InvalidArgument", "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	o := rc.b.get(rc.key)
	if o == nil {
		return errNoSuchKey
	}
	res := attributesResult{NS: s3NS}
	if want["ETag"] {
		res.ETag = strings.Trim(o.etag, `"`)
	}
	if want["Checksum"] && o.checksum.alg != "" {
		res.Checksum = &struct{ copyResultChecksums }{checksumElems(o.checksum)}
	}
	if want["StorageClass"] {
		res.StorageClass = rc.storageClass()
	}
	if want["ObjectSize"] {
		res.ObjectSize = &o.size
	}
	if want["ObjectParts"] && len(o.parts) > 0 {
		p, err := rc.attributeParts(o)
		if err != nil {
			return err
		}
		res.ObjectParts = p
	}
	rc.w.Header().Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	return rc.writeXML(res)
}

func (rc *reqCtx) attributeParts(o *object) (*attrParts, *s3Error) {
	maxP, marker := 1000, 0
	var err error
	if v := rc.r.Header.Get("X-Amz-Max-Parts"); v != "" {
		if maxP, err = strconv.Atoi(v); err != nil || maxP < 0 {
			return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Provided max-parts not an integer or within integer range")
		}
		maxP = min(maxP, 1000)
	}
	if v := rc.r.Header.Get("X-Amz-Part-Number-Marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Provided part-number-marker not an integer or within integer range")
		}
	}
	out := &attrParts{PartsCount: len(o.parts), PartNumberMarker: marker, MaxParts: maxP}
	for i := marker; i < len(o.parts); i++ {
		if len(out.Parts) == maxP {
			out.IsTruncated = true
			break
		}
		ap := attrPart{PartNumber: i + 1, Size: o.parts[i].size}
		if o.checksum.alg != "" && o.parts[i].checksum != "" {
			ap.copyResultChecksums = checksumElems(checksumOf{alg: o.checksum.alg, value: o.parts[i].checksum})
		}
		out.Parts = append(out.Parts, ap)
		out.NextPartNumberMarker = i + 1
	}
	return out, nil
}
