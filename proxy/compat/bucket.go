package compat

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// maxCreateBucketBody bounds the CreateBucketConfiguration a client may
// send (S3's is a few hundred bytes).
const maxCreateBucketBody = 64 << 10

// createBucketConfiguration is the body of CreateBucket for both kinds of
// bucket: LocationConstraint (general purpose), Location and Bucket
// (directory buckets; API_CreateBucketConfiguration).
type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
	Location           struct {
		Name string `xml:"Name"`
		Type string `xml:"Type"`
	} `xml:"Location"`
	Bucket struct {
		DataRedundancy string `xml:"DataRedundancy"`
		Type           string `xml:"Type"`
	} `xml:"Bucket"`
}

// DirectoryBucketInput is the zone a legacy CreateBucket is made in.
type DirectoryBucketInput struct {
	Zone   string // zone id, e.g. usw2-az1
	Region string // the zone's region, e.g. us-west-2
}

var (
	errMalformedCreate = s3err.New(http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema.")
	errCreateTooLarge = s3err.New(http.StatusBadRequest, "MaxMessageLengthExceeded",
		"Your request was too big.")
)

// DirectoryBucketConfig reads a legacy client's CreateBucket body (empty,
// a LocationConstraint, or a directory-bucket configuration) and returns
// the directory-bucket CreateBucketConfiguration for in's zone:
// Location {Type AvailabilityZone, Name zone}, Bucket {DataRedundancy
// SingleAvailabilityZone, Type Directory} (LocalZone / SingleLocalZone
// for a Local Zone id, which has more than one '-').
//
// A LocationConstraint other than in.Region (us-east-1 may be written
// empty, as S3 does) is 400 IllegalLocationConstraintException; a
// Location naming another zone, or another bucket type, 400
// InvalidArgument; a body that is not a CreateBucketConfiguration 400
// MalformedXML. body is read to its end, at most 64 KiB.
func DirectoryBucketConfig(body io.Reader, in DirectoryBucketInput) ([]byte, error) {
	var cfg createBucketConfiguration
	if body != nil {
		raw, err := io.ReadAll(io.LimitReader(body, maxCreateBucketBody+1))
		if err != nil {
			return nil, err
		}
		if len(raw) > maxCreateBucketBody {
			return nil, errCreateTooLarge
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := xml.Unmarshal(raw, &cfg); err != nil {
				return nil, s3err.Wrap(err, errMalformedCreate.Status, errMalformedCreate.Code, errMalformedCreate.Message)
			}
		}
	}
	if err := checkLegacyConfig(&cfg, in); err != nil {
		return nil, err
	}
	locType, redundancy := "AvailabilityZone", "SingleAvailabilityZone"
	if strings.Count(in.Zone, "-") > 1 {
		locType, redundancy = "LocalZone", "SingleLocalZone"
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<CreateBucketConfiguration xmlns="` + s3NS + `">` +
		`<Location><Type>` + locType + `</Type><Name>` + in.Zone + `</Name></Location>` +
		`<Bucket><DataRedundancy>` + redundancy + `</DataRedundancy><Type>Directory</Type></Bucket>` +
		`</CreateBucketConfiguration>`), nil
}

// errIllegalLocation wraps every refused LocationConstraint, for errors.Is.
var errIllegalLocation = errors.New("compat: location constraint outside the default zone's region")

func checkLegacyConfig(cfg *createBucketConfiguration, in DirectoryBucketInput) error {
	lc := cfg.LocationConstraint
	if lc != "" && lc != in.Region && !(lc == "us-east-1" && in.Region == "us-east-1") {
		return s3err.Wrap(errIllegalLocation, http.StatusBadRequest, "IllegalLocationConstraintException",
			fmt.Sprintf("The %s location constraint is incompatible with this proxy: buckets are created as directory buckets in zone %s (region %s).", lc, in.Zone, in.Region))
	}
	if n := cfg.Location.Name; n != "" && n != in.Zone {
		return s3err.New(http.StatusBadRequest, "InvalidArgument",
			fmt.Sprintf("Location %s does not match the bucket's zone %s.", n, in.Zone))
	}
	if t := cfg.Bucket.Type; t != "" && t != "Directory" {
		return s3err.New(http.StatusBadRequest, "InvalidArgument", "Bucket type must be Directory.")
	}
	return nil
}

// CopyUpstream sends an upstream answer (typically an S3 error) to the
// client unchanged: status, end-to-end headers and the body, streamed.
func CopyUpstream(w http.ResponseWriter, resp *http.Response) { copyResponse(w, resp) }
