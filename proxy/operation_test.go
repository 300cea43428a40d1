package proxy

import (
	"net/http"
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	copySrc := http.Header{"X-Amz-Copy-Source": {"/b/k"}}
	tests := []struct {
		method, bucket, key, query string
		header                     http.Header
		want                       Operation
	}{
		{"GET", "", "", "", nil, Operation{Name: "ListBuckets", Auth: SignIAM, Control: true}},
		{"GET", "b", "", "list-type=2&prefix=a%2F", nil, Operation{Name: "ListObjectsV2"}},
		{"GET", "b", "", "prefix=a%2F", nil, Operation{Name: "ListObjects"}},
		{"GET", "b", "", "uploads", nil, Operation{Name: "ListMultipartUploads"}},
		{"GET", "b", "", "session", nil, Operation{Name: "CreateSession"}},
		{"GET", "b", "", "location", nil, Operation{Name: "GetBucketLocation"}},
		{"HEAD", "b", "", "", nil, Operation{Name: "HeadBucket", Auth: SignIAM}},
		{"PUT", "b", "", "", nil, Operation{Name: "CreateBucket", Write: true, Auth: SignIAM, Control: true}},
		{"DELETE", "b", "", "", nil, Operation{Name: "DeleteBucket", Write: true, Auth: SignIAM, Control: true}},
		{"GET", "b", "", "policy", nil, Operation{Name: "GetBucketPolicy", Auth: SignIAM, Control: true}},
		{"PUT", "b", "", "encryption", nil, Operation{Name: "PutBucketEncryption", Write: true, Auth: SignIAM, Control: true}},
		{"POST", "b", "", "delete", nil, Operation{Name: "DeleteObjects", Write: true}},
		{"GET", "b", "k", "", nil, Operation{Name: "GetObject"}},
		{"GET", "b", "k", "uploadId=x", nil, Operation{Name: "ListParts"}},
		{"GET", "b", "k", "attributes", nil, Operation{Name: "GetObjectAttributes"}},
		{"HEAD", "b", "k", "", nil, Operation{Name: "HeadObject"}},
		{"PUT", "b", "k", "", nil, Operation{Name: "PutObject", Write: true}},
		{"PUT", "b", "k", "", copySrc, Operation{Name: "CopyObject", Write: true, Auth: SignIAM}},
		{"PUT", "b", "k", "partNumber=1&uploadId=x", nil, Operation{Name: "UploadPart", Write: true}},
		{"PUT", "b", "k", "partNumber=1&uploadId=x", copySrc, Operation{Name: "UploadPartCopy", Write: true, Auth: SignIAM}},
		{"PUT", "b", "k", "renameObject", nil, Operation{Name: "RenameObject", Write: true}},
		{"POST", "b", "k", "uploads", nil, Operation{Name: "CreateMultipartUpload", Write: true}},
		{"POST", "b", "k", "uploadId=x", nil, Operation{Name: "CompleteMultipartUpload", Write: true}},
		{"DELETE", "b", "k", "uploadId=x", nil, Operation{Name: "AbortMultipartUpload", Write: true}},
		{"DELETE", "b", "k", "", nil, Operation{Name: "DeleteObject", Write: true}},
		{"PATCH", "b", "k", "", nil, Operation{Name: "Unknown", Write: true}},
		{"OPTIONS", "b", "", "", nil, Operation{Name: "Unknown", Write: true}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.bucket+"/"+tt.key+"?"+tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			if got := Classify(ClassifyInput{Method: tt.method, Bucket: tt.bucket, Key: tt.key, Query: q, Header: h}); got != tt.want {
				t.Fatalf("Classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}
