package proxy

import (
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// S3's documented request limits, enforced before anything else so an
// oversize request never costs a signature check or an upstream call.
const (
	// MaxHeaderSection is S3's limit on a request's header section (8 KB).
	MaxHeaderSection = 8 << 10
	// MaxUserMetadata is S3's limit on x-amz-meta-* names and values (2 KB).
	MaxUserMetadata = 2 << 10
)

var (
	errHeaderTooLarge = s3err.New(http.StatusBadRequest, "RequestHeaderSectionTooLarge",
		"Your request header section exceeds the maximum allowed size.")
	errMetadataTooLarge = s3err.New(http.StatusBadRequest, "MetadataTooLarge",
		"Your metadata headers exceed the maximum allowed metadata size.")
)

// checkHeaderLimits refuses a header section over MaxHeaderSection bytes
// (counted as "Name: value\r\n" lines) or user metadata over
// MaxUserMetadata bytes (names without the x-amz-meta- prefix, plus values).
func checkHeaderLimits(h http.Header) error {
	var all, meta int
	for k, vs := range h {
		isMeta := len(k) > len("X-Amz-Meta-") && strings.EqualFold(k[:len("X-Amz-Meta-")], "X-Amz-Meta-")
		for _, v := range vs {
			all += len(k) + len(v) + 4
			if isMeta {
				meta += len(k) - len("X-Amz-Meta-") + len(v)
			}
		}
	}
	if all > MaxHeaderSection {
		return errHeaderTooLarge
	}
	if meta > MaxUserMetadata {
		return errMetadataTooLarge
	}
	return nil
}
