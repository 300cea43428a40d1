package proxy

import (
	"net/http"
	"net/url"
)

// UpstreamAuth says how a request is signed for S3 Express.
type UpstreamAuth int

const (
	// SignSession signs with cached CreateSession credentials and the
	// x-amz-s3session-token header (the default for Zonal data operations).
	SignSession UpstreamAuth = iota
	// SignIAM signs with the upstream IAM credentials, service s3express:
	// CopyObject, UploadPartCopy, HeadBucket and every control-plane call
	// (docs/s3express-protocol.md §3.1).
	SignIAM
)

func (a UpstreamAuth) String() string {
	if a == SignIAM {
		return "iam"
	}
	return "session"
}

// Operation is what Classify knows about one S3 request.
type Operation struct {
	// Name is the S3 API name (GetObject, PutObject, ListObjectsV2, ...), or
	// "Unknown" for a request the classifier does not recognise (forwarded,
	// session-signed, read or write by method).
	Name string
	// Write says the operation needs read-write access.
	Write bool
	// Auth is how the operation is signed upstream.
	Auth UpstreamAuth
	// Control says the operation goes to the regional control endpoint
	// (s3express-control.<region>, path-style) instead of the Zonal host.
	Control bool
}

// controlSubresources are bucket subresources served by the regional
// control endpoint (docs/s3express-protocol.md §1.3, §7).
var controlSubresources = []string{"policy", "encryption", "lifecycle", "inventory", "metrics", "metadataTable"}

// Classify names the S3 operation of a request from its method, whether it
// addresses a bucket and a key, its query and its headers. It never fails:
// unrecognised requests are "Unknown", and GET/HEAD count as reads.
func Classify(method, bucket, key string, q url.Values, h http.Header) Operation {
	switch {
	case bucket == "":
		return classifyService(method)
	case key == "":
		return classifyBucket(method, q)
	default:
		return classifyObject(method, q, h)
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
		return classifyBucketGet(q)
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
		if has(q, "delete") {
			return op("DeleteObjects", true)
		}
	}
	return unknown(method)
}

func classifyBucketGet(q url.Values) Operation {
	switch {
	case q.Get("list-type") == "2":
		return op("ListObjectsV2", false)
	case has(q, "session"):
		return op("CreateSession", false)
	case has(q, "uploads"):
		return op("ListMultipartUploads", false)
	case has(q, "location"):
		return op("GetBucketLocation", false)
	case has(q, "versions"):
		return op("ListObjectVersions", false)
	case has(q, "acl"), has(q, "tagging"), has(q, "versioning"), has(q, "cors"), has(q, "website"),
		has(q, "logging"), has(q, "notification"), has(q, "replication"), has(q, "accelerate"),
		has(q, "ownershipControls"), has(q, "publicAccessBlock"), has(q, "object-lock"), has(q, "requestPayment"):
		return op("Unknown", false)
	}
	return op("ListObjects", false)
}

func classifyObject(method string, q url.Values, h http.Header) Operation {
	switch method {
	case http.MethodGet:
		switch {
		case has(q, "uploadId"):
			return op("ListParts", false)
		case has(q, "attributes"):
			return op("GetObjectAttributes", false)
		case has(q, "acl"):
			return op("GetObjectAcl", false)
		case has(q, "tagging"):
			return op("GetObjectTagging", false)
		}
		return op("GetObject", false)
	case http.MethodHead:
		return op("HeadObject", false)
	case http.MethodPut:
		return classifyObjectPut(q, h)
	case http.MethodPost:
		switch {
		case has(q, "uploads"):
			return op("CreateMultipartUpload", true)
		case has(q, "uploadId"):
			return op("CompleteMultipartUpload", true)
		}
	case http.MethodDelete:
		if has(q, "uploadId") {
			return op("AbortMultipartUpload", true)
		}
		if has(q, "tagging") {
			return op("DeleteObjectTagging", true)
		}
		return op("DeleteObject", true)
	}
	return unknown(method)
}

func classifyObjectPut(q url.Values, h http.Header) Operation {
	copying := h.Get("X-Amz-Copy-Source") != ""
	part := has(q, "partNumber") && has(q, "uploadId")
	switch {
	case copying && part:
		return Operation{Name: "UploadPartCopy", Write: true, Auth: SignIAM}
	case copying:
		return Operation{Name: "CopyObject", Write: true, Auth: SignIAM}
	case part:
		return op("UploadPart", true)
	case has(q, "renameObject"):
		return op("RenameObject", true)
	case has(q, "acl"):
		return op("PutObjectAcl", true)
	case has(q, "tagging"):
		return op("PutObjectTagging", true)
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
