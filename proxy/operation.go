package proxy

import (
	"net/http"
	"net/url"
)

// controlSubresources are bucket subresources served by the regional
// control endpoint (docs/s3express-protocol.md §1.3, §7). GET, PUT and
// DELETE with one of them are Get/Put/DeleteBucket<Subresource>.
var controlSubresources = []string{"policy", "encryption", "lifecycle", "inventory", "metrics", "metadataTable"}

// A selector is one row of the operation table: a request has operation op
// when every one of params is in its query (the first equal to value, when
// value is set). In each table the first matching row wins; no match means
// the method's default operation.
//
// The table is also the one list of operation-selecting query parameters
// (selectsOperation): SigV2 signs only some query parameters, so a SigV2
// request carrying any other of these is refused (auth.go, checkSigV2Scope).
type selector struct {
	params []string
	value  string
	op     Operation
}

func row(o Operation, params ...string) selector { return selector{params: params, op: o} }

// The operation table, by resource (bucket, object) and method.
var (
	bucketGet = []selector{
		{params: []string{"list-type"}, value: "2", op: op("ListObjectsV2", false)},
		row(op("CreateSession", false), "session"),
		row(op("ListMultipartUploads", false), "uploads"),
		row(op("GetBucketLocation", false), "location"),
		row(op("ListObjectVersions", false), "versions"),
		// Bucket configuration reads directory buckets do not support:
		// forwarded as Unknown (S3 answers them).
		row(op("Unknown", false), "acl"), row(op("Unknown", false), "tagging"),
		row(op("Unknown", false), "versioning"), row(op("Unknown", false), "cors"),
		row(op("Unknown", false), "website"), row(op("Unknown", false), "logging"),
		row(op("Unknown", false), "notification"), row(op("Unknown", false), "replication"),
		row(op("Unknown", false), "accelerate"), row(op("Unknown", false), "ownershipControls"),
		row(op("Unknown", false), "publicAccessBlock"), row(op("Unknown", false), "object-lock"),
		row(op("Unknown", false), "requestPayment"),
	}
	bucketPost = []selector{
		row(op("DeleteObjects", true), "delete"),
	}
	objectGet = []selector{
		row(op("ListParts", false), "uploadId"),
		row(op("GetObjectAttributes", false), "attributes"),
		row(op("GetObjectAcl", false), "acl"),
		row(op("GetObjectTagging", false), "tagging"),
	}
	// objectPut is refined by x-amz-copy-source (classifyObjectPut).
	objectPut = []selector{
		row(op("UploadPart", true), "partNumber", "uploadId"),
		row(op("RenameObject", true), "renameObject"),
		row(op("PutObjectAcl", true), "acl"),
		row(op("PutObjectTagging", true), "tagging"),
	}
	objectPost = []selector{
		row(op("CreateMultipartUpload", true), "uploads"),
		row(op("CompleteMultipartUpload", true), "uploadId"),
	}
	objectDelete = []selector{
		row(op("AbortMultipartUpload", true), "uploadId"),
		row(op("DeleteObjectTagging", true), "tagging"),
	}
)

// selectorParams is every query parameter of the operation table.
var selectorParams = func() map[string]bool {
	m := make(map[string]bool)
	for _, name := range controlSubresources {
		m[name] = true
	}
	for _, t := range [][]selector{bucketGet, bucketPost, objectGet, objectPut, objectPost, objectDelete} {
		for _, s := range t {
			for _, name := range s.params {
				m[name] = true
			}
		}
	}
	return m
}()

// selectsOperation reports whether the query parameter name can select an
// operation (it appears in the operation table).
func selectsOperation(name string) bool { return selectorParams[name] }

// match returns the first row of table that q matches.
func match(table []selector, q url.Values) (Operation, bool) {
rows:
	for _, s := range table {
		for _, name := range s.params {
			if !has(q, name) {
				continue rows
			}
		}
		if s.value != "" && q.Get(s.params[0]) != s.value {
			continue
		}
		return s.op, true
	}
	return Operation{}, false
}

// ClassifyInput is what Classify reads of a request.
type ClassifyInput struct {
	Method string
	// Bucket and Key are as addressed: Bucket "" for the service, Key ""
	// for a bucket-level request.
	Bucket, Key string
	Query       url.Values
	Header      http.Header
}

// Classify names the S3 operation of a request from its method, whether it
// addresses a bucket and a key, its query and its headers. It never fails:
// unrecognised requests are "Unknown", and GET/HEAD count as reads.
func Classify(in ClassifyInput) Operation {
	switch {
	case in.Bucket == "":
		return classifyService(in.Method)
	case in.Key == "":
		return classifyBucket(in.Method, in.Query)
	default:
		return classifyObject(in.Method, in.Query, in.Header)
	}
}

func op(name string, write bool) Operation { return Operation{Name: name, Write: write} }

func classifyService(method string) Operation {
	if method == http.MethodGet {
		return Operation{Name: "ListBuckets", Auth: SignIAM, Control: true}
	}
	return unknown(method)
}

func unknown(method string) Operation {
	return op("Unknown", method != http.MethodGet && method != http.MethodHead)
}

func classifyBucket(method string, q url.Values) Operation {
	for _, sub := range controlSubresources {
		if has(q, sub) {
			name := map[string]string{
				http.MethodGet: "GetBucket", http.MethodPut: "PutBucket", http.MethodDelete: "DeleteBucket",
			}[method]
			if name == "" {
				return unknown(method)
			}
			return Operation{Name: name + title(sub), Write: method != http.MethodGet, Auth: SignIAM, Control: true}
		}
	}
	switch method {
	case http.MethodGet:
		if o, ok := match(bucketGet, q); ok {
			return o
		}
		return op("ListObjects", false)
	case http.MethodHead:
		return Operation{Name: "HeadBucket", Auth: SignIAM}
	case http.MethodPut:
		if len(q) == 0 {
			return Operation{Name: "CreateBucket", Write: true, Auth: SignIAM, Control: true}
		}
	case http.MethodDelete:
		if len(q) == 0 {
			return Operation{Name: "DeleteBucket", Write: true, Auth: SignIAM, Control: true}
		}
	case http.MethodPost:
		if o, ok := match(bucketPost, q); ok {
			return o
		}
	}
	return unknown(method)
}

func classifyObject(method string, q url.Values, h http.Header) Operation {
	switch method {
	case http.MethodGet:
		if o, ok := match(objectGet, q); ok {
			return o
		}
		return op("GetObject", false)
	case http.MethodHead:
		return op("HeadObject", false)
	case http.MethodPut:
		return classifyObjectPut(q, h)
	case http.MethodPost:
		if o, ok := match(objectPost, q); ok {
			return o
		}
	case http.MethodDelete:
		if o, ok := match(objectDelete, q); ok {
			return o
		}
		return op("DeleteObject", true)
	}
	return unknown(method)
}

// classifyObjectPut: a PUT with x-amz-copy-source is a copy, of a part when
// the table says UploadPart.
func classifyObjectPut(q url.Values, h http.Header) Operation {
	o, ok := match(objectPut, q)
	if h.Get("X-Amz-Copy-Source") != "" {
		if ok && o.Name == "UploadPart" {
			return Operation{Name: "UploadPartCopy", Write: true, Auth: SignIAM}
		}
		return Operation{Name: "CopyObject", Write: true, Auth: SignIAM}
	}
	if ok {
		return o
	}
	return op("PutObject", true)
}

func has(q url.Values, name string) bool {
	_, ok := q[name]
	return ok
}

func title(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
