package compat

import (
	"encoding/xml"
	"net/http"
	"strconv"
)

// locationConstraint is the GetBucketLocation answer.
type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

// GetBucketLocation answers GetBucketLocation (GET /bucket?location) from
// the routed region, without a call upstream: legacy clients (s3cmd,
// minio-go without a region) ask it before anything else, and directory
// buckets do not serve it. As S3 does, us-east-1 is the empty constraint.
// The proxy accepts any signing region, so the answer only steers how the
// client signs, never where the proxy sends.
func GetBucketLocation(w http.ResponseWriter, r *http.Request, region string) {
	if region == "us-east-1" {
		region = ""
	}
	out, _ := xml.Marshal(locationConstraint{Region: region}) // cannot fail for this type
	body := append([]byte(xml.Header), out...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
