package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"hash/maphash"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Listing order. Directory buckets list in an order that is not
// lexicographic (protocol notes 7): by a per-bucket random hash of the
// entry name, stable across pages, with opaque continuation tokens that
// encode the last (hash, name) returned. General-purpose buckets list in
// UTF-8 binary order with the name as the position.

type listEntry struct {
	name   string
	obj    *object // nil for a common prefix
	order  uint64
	prefix bool
}

// collect returns the entries under prefix, rolled up at delimiter, in
// listing order. extraKeys (in-progress upload keys) contribute only
// common prefixes.
func (b *bucket) collect(prefix, delim string, extraKeys []string) []listEntry {
	b.mu.RLock()
	seen := map[string]bool{}
	var out []listEntry
	add := func(key string, o *object) {
		if !strings.HasPrefix(key, prefix) {
			return
		}
		if delim != "" {
			if i := strings.Index(key[len(prefix):], delim); i >= 0 {
				cp := key[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					out = append(out, listEntry{name: cp, prefix: true})
				}
				return
			}
		}
		if o != nil {
			out = append(out, listEntry{name: key, obj: o})
		}
	}
	for k, o := range b.objects {
		add(k, o)
	}
	b.mu.RUnlock()
	for _, k := range extraKeys {
		if delim != "" {
			add(k, nil)
		}
	}
	b.sortEntries(out)
	return out
}

func (b *bucket) sortEntries(out []listEntry) {
	if b.directory {
		for i := range out {
			out[i].order = maphash.String(b.seed, out[i].name)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].order != out[j].order {
			return out[i].order < out[j].order
		}
		return out[i].name < out[j].name
	})
}

func (b *bucket) uploadKeys() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	keys := make([]string, 0, len(b.uploads))
	for _, u := range b.uploads {
		keys = append(keys, u.key)
	}
	return keys
}

// token encodes a listing position.
func (b *bucket) token(e listEntry) string {
	buf := make([]byte, 8, 8+len(e.name))
	binary.BigEndian.PutUint64(buf, e.order)
	return base64.RawURLEncoding.EncodeToString(append(buf, e.name...))
}

var errBadToken = newErr(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")

func decodeToken(tok string) (listEntry, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 8 {
		return listEntry{}, false
	}
	return listEntry{order: binary.BigEndian.Uint64(raw), name: string(raw[8:])}, true
}

// after returns the entries strictly after position pos.
func after(entries []listEntry, pos listEntry) []listEntry {
	i := sort.Search(len(entries), func(i int) bool {
		e := entries[i]
		return e.order > pos.order || e.order == pos.order && e.name > pos.name
	})
	return entries[i:]
}

type listV2Result struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	NS                    string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []listContent  `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listContent struct {
	Key               string `xml:"Key"`
	LastModified      string `xml:"LastModified"`
	ETag              string `xml:"ETag"`
	ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
	Size              int64  `xml:"Size"`
	Owner             *owner `xml:"Owner,omitempty"`
	StorageClass      string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listParams are the parameters shared by the listing operations.
type listParams struct {
	prefix, delim, encoding string
	maxKeys                 int
}

func (rc *reqCtx) listParams(maxName string) (listParams, *s3Error) {
	p := listParams{prefix: rc.q.get("prefix"), delim: rc.q.get("delimiter"), encoding: rc.q.get("encoding-type")}
	if p.encoding != "" && p.encoding != "url" {
		return p, newErr(http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	n, err := intParam(rc.q, maxName, 1000, 1000)
	if err != nil {
		return p, err
	}
	p.maxKeys = n
	if rc.b.directory {
		if p.delim != "" && p.delim != "/" {
			return p, newErr(http.StatusBadRequest, "InvalidArgument", "This bucket only supports / as a delimiter")
		}
		if p.delim == "" && rc.q.has("delimiter") { // present but empty: S3 Express refuses it too
			return p, newErr(http.StatusBadRequest, "InvalidArgument", `Delimiter must be "/" for directory buckets`)
		}
		if p.delim != "" && p.prefix != "" && !strings.HasSuffix(p.prefix, "/") {
			return p, newErr(http.StatusBadRequest, "InvalidArgument", "When a delimiter is specified, the prefix must end with the delimiter in directory buckets")
		}
	}
	return p, nil
}

func (p listParams) enc(s string) string {
	if p.encoding == "url" {
		return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
	}
	return s
}

func (rc *reqCtx) listObjectsV2() *s3Error {
	p, err := rc.listParams("max-keys")
	if err != nil {
		return err
	}
	startAfter := rc.q.get("start-after")
	if startAfter != "" && rc.b.directory {
		return newErr(http.StatusBadRequest, "InvalidArgument", "start-after is not supported for directory buckets")
	}
	entries := rc.b.collect(p.prefix, p.delim, rc.b.uploadKeys())
	tok := rc.q.get("continuation-token")
	switch {
	case rc.q.has("continuation-token"):
		pos, ok := decodeToken(tok)
		if !ok {
			return errBadToken
		}
		entries = after(entries, pos)
	case startAfter != "":
		entries = after(entries, listEntry{name: startAfter})
	}
	res := listV2Result{NS: s3NS, Name: rc.b.name, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delim), MaxKeys: p.maxKeys,
		EncodingType: p.encoding, ContinuationToken: tok, StartAfter: p.enc(startAfter)}
	fetchOwner := rc.q.get("fetch-owner") == "true"
	for i, e := range entries {
		if i == p.maxKeys {
			res.IsTruncated = true
			res.NextContinuationToken = rc.b.token(entries[i-1])
			break
		}
		res.KeyCount++
		if e.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(e.name)})
			continue
		}
		res.Contents = append(res.Contents, rc.content(e.obj, p, fetchOwner))
	}
	if p.maxKeys == 0 && len(entries) > 0 {
		res.IsTruncated = true
	}
	return rc.writeXML(res)
}

func (rc *reqCtx) content(o *object, p listParams, fetchOwner bool) listContent {
	c := listContent{Key: p.enc(o.key), LastModified: s3Time(o.modified), ETag: o.etag, Size: o.size, StorageClass: rc.storageClass(),
		ChecksumAlgorithm: o.checksum.alg}
	if o.checksum.alg != "" {
		c.ChecksumType = o.checksum.typ
	}
	if fetchOwner {
		c.Owner = &owner{ownerID}
	}
	return c
}

type listV1Result struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	NS             string         `xml:"xmlns,attr"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	Contents       []listContent  `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

// listObjectsV1 serves general-purpose buckets only: directory buckets do
// not support ListObjects (protocol notes 7), answered 501 NotImplemented
// like the other unsupported directory-bucket features.
func (rc *reqCtx) listObjectsV1() *s3Error {
	if rc.b.directory {
		return newErr(http.StatusNotImplemented, "NotImplemented", "ListObjects (V1) is not supported for directory buckets; use ListObjectsV2.")
	}
	p, err := rc.listParams("max-keys")
	if err != nil {
		return err
	}
	marker := rc.q.get("marker")
	entries := after(rc.b.collect(p.prefix, p.delim, nil), listEntry{name: marker})
	res := listV1Result{NS: s3NS, Name: rc.b.name, Prefix: p.enc(p.prefix), Marker: p.enc(marker), Delimiter: p.enc(p.delim), MaxKeys: p.maxKeys, EncodingType: p.encoding}
	for i, e := range entries {
		if i == p.maxKeys {
			res.IsTruncated = true
			if p.delim != "" {
				res.NextMarker = p.enc(entries[i-1].name)
			}
			break
		}
		if e.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(e.name)})
			continue
		}
		res.Contents = append(res.Contents, rc.content(e.obj, p, true))
	}
	return rc.writeXML(res)
}

// collectUploads returns the upload entries (name key+"\x00"+id) and
// common prefixes under p, in listing order, and the uploads by ID.
func (b *bucket) collectUploads(p listParams) ([]listEntry, map[string]*upload) {
	var entries []listEntry
	seen := map[string]bool{}
	uploads := map[string]*upload{}
	b.mu.RLock()
	for _, u := range b.uploads {
		if !strings.HasPrefix(u.key, p.prefix) {
			continue
		}
		if p.delim != "" {
			if i := strings.Index(u.key[len(p.prefix):], p.delim); i >= 0 {
				cp := u.key[:len(p.prefix)+i+len(p.delim)]
				if !seen[cp] {
					seen[cp] = true
					entries = append(entries, listEntry{name: cp, prefix: true})
				}
				continue
			}
		}
		uploads[u.id] = u
		entries = append(entries, listEntry{name: u.key + "\x00" + u.id})
	}
	b.mu.RUnlock()
	b.sortEntries(entries)
	return entries, uploads
}

type listUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	NS                 string         `xml:"xmlns,attr"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string         `xml:"Prefix"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	MaxUploads         int            `xml:"MaxUploads"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []uploadEntry  `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
}

type uploadEntry struct {
	Key               string `xml:"Key"`
	UploadID          string `xml:"UploadId"`
	Initiator         owner  `xml:"Initiator"`
	Owner             owner  `xml:"Owner"`
	StorageClass      string `xml:"StorageClass"`
	Initiated         string `xml:"Initiated"`
	ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

// listMultipartUploads lists in-progress uploads. On directory buckets the
// key-marker is an opaque position and upload-id-marker is unsupported
// (protocol notes 7); entries are one per upload (name = key + "\x00" + id).
func (rc *reqCtx) listMultipartUploads() *s3Error {
	p, err := rc.listParams("max-uploads")
	if err != nil {
		return err
	}
	if rc.b.directory && rc.q.get("upload-id-marker") != "" {
		return newErr(http.StatusBadRequest, "InvalidArgument", "upload-id-marker is not supported for directory buckets")
	}
	entries, uploads := rc.b.collectUploads(p)
	marker := rc.q.get("key-marker")
	if marker != "" {
		pos, ok := decodeToken(marker)
		if !ok {
			return errBadToken
		}
		entries = after(entries, pos)
	}
	res := listUploadsResult{NS: s3NS, Bucket: rc.b.name, KeyMarker: marker, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delim), MaxUploads: p.maxKeys, EncodingType: p.encoding}
	for i, e := range entries {
		if i == p.maxKeys {
			res.IsTruncated = true
			res.NextKeyMarker = rc.b.token(entries[i-1])
			break
		}
		if e.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{p.enc(e.name)})
			continue
		}
		key, id, _ := strings.Cut(e.name, "\x00")
		u := uploads[id]
		res.Uploads = append(res.Uploads, uploadEntry{Key: p.enc(key), UploadID: id, Initiator: owner{ownerID}, Owner: owner{ownerID},
			StorageClass: rc.storageClass(), Initiated: s3Time(u.initiated), ChecksumAlgorithm: u.alg, ChecksumType: u.ctype})
	}
	return rc.writeXML(res)
}
