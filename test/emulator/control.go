package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
)

type createBucketConfig struct {
	XMLName  xml.Name `xml:"CreateBucketConfiguration"`
	Location struct {
		Name string `xml:"Name"`
		Type string `xml:"Type"`
	} `xml:"Location"`
	Bucket struct {
		DataRedundancy string `xml:"DataRedundancy"`
		Type           string `xml:"Type"`
	} `xml:"Bucket"`
	LocationConstraint string `xml:"LocationConstraint"`
}

// createBucket serves CreateBucket on the control host (directory
// buckets) and on general-purpose hosts.
func (rc *reqCtx) createBucket() *s3Error {
	name := rc.bucketName
	directory := rc.hi.kind == hostControl
	if directory && !validDirectoryBucketName(name) {
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if !directory && (isDirectoryBucket(name) || len(name) < 3 || len(name) > 63) {
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	var cfg createBucketConfig
	if rc.r.ContentLength != 0 {
		body, err := rc.openBody(checksumSpec{}, !directory)
		if err != nil {
			return err
		}
		raw, rerr := io.ReadAll(io.LimitReader(body, 64<<10+1))
		if rerr != nil {
			return readErr(rerr)
		}
		if len(raw) > 64<<10 || len(raw) > 0 && xml.Unmarshal(raw, &cfg) != nil {
			return errMalformedXML
		}
	}
	if directory {
		if err := checkDirectoryConfig(name, &cfg); err != nil {
			return err
		}
	}
	rc.e.mu.Lock()
	defer rc.e.mu.Unlock()
	if rc.e.buckets[name] != nil {
		return newErr(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	}
	rc.e.buckets[name] = newBucket(name, rc.now)
	rc.w.Header().Set("Location", "/"+name)
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

func (rc *reqCtx) deleteBucket() *s3Error {
	b := rc.b
	b.mu.RLock()
	busy := len(b.objects) > 0 || len(b.uploads) > 0
	b.mu.RUnlock()
	if busy {
		return newErr(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
	}
	rc.e.mu.Lock()
	delete(rc.e.buckets, b.name)
	rc.e.mu.Unlock()
	rc.w.WriteHeader(http.StatusNoContent)
	return nil
}

type listBucketsResult struct {
	XMLName           xml.Name      `xml:"ListAllMyDirectoryBucketsResult"`
	NS                string        `xml:"xmlns,attr"`
	Owner             *owner        `xml:"Owner,omitempty"`
	Buckets           []bucketEntry `xml:"Buckets>Bucket"`
	ContinuationToken string        `xml:"ContinuationToken,omitempty"`
}

type bucketEntry struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion,omitempty"`
}

// listBuckets serves ListDirectoryBuckets (control host, directory
// buckets, continuation-token / max-directory-buckets) and ListBuckets
// (general-purpose host).
func (rc *reqCtx) listBuckets() *s3Error {
	directory := rc.op == "ListDirectoryBuckets"
	max, err := intParam(rc.q, "max-directory-buckets", 1000, 1000)
	if err != nil {
		return err
	}
	start := rc.q.get("continuation-token")
	res := listBucketsResult{NS: s3NS}
	if directory {
		res.XMLName.Local = "ListAllMyDirectoryBucketsResult"
	} else {
		res.XMLName.Local = "ListAllMyBucketsResult"
		res.Owner = &owner{ownerID}
	}
	for _, n := range rc.e.bucketNames() {
		if isDirectoryBucket(n) != directory || n <= start && start != "" {
			continue
		}
		if directory && len(res.Buckets) == max {
			res.ContinuationToken = res.Buckets[len(res.Buckets)-1].Name
			break
		}
		b := rc.e.bucket(n)
		if b == nil {
			continue
		}
		res.Buckets = append(res.Buckets, bucketEntry{Name: n, CreationDate: s3Time(b.created), BucketRegion: rc.hi.region})
	}
	return rc.writeXML(res)
}

// checkDirectoryConfig applies the rules of a directory-bucket
// CreateBucket: the CreateBucketConfiguration is required and names the
// bucket's zone (Location Type and Name) and its type (Bucket Type
// Directory, DataRedundancy for that kind of zone); LocationConstraint
// belongs to general purpose buckets (API_CreateBucket,
// API_CreateBucketConfiguration).
func checkDirectoryConfig(name string, cfg *createBucketConfig) *s3Error {
	loc, b := cfg.Location, cfg.Bucket
	switch {
	case loc.Name == "" || loc.Type == "" || b.Type == "":
		return newErr(http.StatusBadRequest, "InvalidRequest", "A CreateBucketConfiguration with Location (Type, Name) and Bucket (Type) is required for directory buckets.")
	case cfg.LocationConstraint != "":
		return newErr(http.StatusBadRequest, "InvalidArgument", "LocationConstraint is not supported for directory buckets.")
	case loc.Name != bucketZone(name):
		return newErr(http.StatusBadRequest, "InvalidBucketName", "The zone in the bucket name does not match the location in the request.")
	case b.Type != "Directory":
		return newErr(http.StatusBadRequest, "InvalidArgument", "Bucket type must be Directory")
	}
	want := map[string]string{"AvailabilityZone": "SingleAvailabilityZone", "LocalZone": "SingleLocalZone"}[loc.Type]
	switch {
	case want == "":
		return newErr(http.StatusBadRequest, "InvalidArgument", "Location type must be AvailabilityZone or LocalZone")
	case b.DataRedundancy != "" && b.DataRedundancy != want:
		return newErr(http.StatusBadRequest, "InvalidArgument", "DataRedundancy must be "+want+" for a "+loc.Type)
	}
	return nil
}
