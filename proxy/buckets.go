package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/session"
)

// Bucket lifecycle for legacy clients (docs/compat.md, "Bucket lifecycle"):
// under Options.DefaultZone, CreateBucket and DeleteBucket, which every
// legacy tool sends plainly (aws s3 mb, s3cmd mb, rclone mkdir), become
// the directory-bucket calls on the Regional endpoint
// s3express-control.<region> (path-style, IAM-signed: protocol notes §1.3,
// §7; API_CreateBucket "Directory buckets - ... the Regional endpoint").
// Only a Credential with CreateBuckets may make them. Without a default
// zone no handler is installed and both stay 501 (unsupported): a client
// that can write a directory-bucket configuration calls the control
// endpoint itself.

// errBucketAccess answers a bucket lifecycle call by an identity without
// Credential.CreateBuckets.
var errBucketAccess = s3err.New(http.StatusForbidden, "AccessDenied",
	"Access Denied: this identity may not create or delete buckets.")

// mayManageBuckets refuses identities without Credential.CreateBuckets,
// anonymous callers and local sessions (whose access is narrowed to
// objects of one bucket).
func mayManageBuckets(req *Request) error {
	c := req.Credential
	if c == nil || !c.CreateBuckets || c.session != nil {
		e := *errBucketAccess
		e.Resource = req.In.URL.Path
		return &e
	}
	if !strings.HasSuffix(req.Target.Bucket, "--x-s3") { // an access point
		return s3err.New(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	return nil
}

// createBucket sends the directory-bucket CreateBucket for the routed
// bucket (its zone from the name) to its region's control endpoint. The
// client's body may be empty, a LocationConstraint of that region, or a
// directory-bucket configuration of that zone (compat.DirectoryBucketConfig).
func (p *Proxy) createBucket(w http.ResponseWriter, req *Request) error {
	if err := mayManageBuckets(req); err != nil {
		return err
	}
	if isStreaming(req.ContentSHA256) {
		return s3err.New(http.StatusBadRequest, "InvalidRequest", "CreateBucket does not take an aws-chunked body.")
	}
	t := req.Target
	body, err := compat.DirectoryBucketConfig(req.Body, compat.DirectoryBucketInput{Zone: t.Zone, Region: t.Region})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	up := newUpstreamRequest(req.In.Context(), http.MethodPut, &url.URL{Path: "/" + t.Bucket}, h)
	up.Body, up.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	up.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return p.bucketCall(w, req, up, http.StatusOK)
}

// deleteBucket sends DeleteBucket for the routed bucket to its region's
// control endpoint.
func (p *Proxy) deleteBucket(w http.ResponseWriter, req *Request) error {
	if err := mayManageBuckets(req); err != nil {
		return err
	}
	up := newUpstreamRequest(req.In.Context(), http.MethodDelete, &url.URL{Path: "/" + req.Target.Bucket}, nil)
	return p.bucketCall(w, req, up, http.StatusNoContent)
}

// bucketCall sends up to the control endpoint of the request's region and
// answers the client: a success as ok (CreateBucket's Location header
// names the bucket as the client called it), anything else as S3 answered.
func (p *Proxy) bucketCall(w http.ResponseWriter, req *Request, up *http.Request, ok int) error {
	ctl := p.router.Control(req.Target.Region)
	resp, err := p.Upstream(req.In.Context(), up, UpstreamTarget{Target: ctl, Auth: SignIAM, Mode: session.ReadWrite})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		compat.CopyUpstream(w, resp)
		return nil
	}
	if ok == http.StatusOK { // CreateBucket: what was remembered of the name before is wrong now
		p.cache.ForgetBucket(req.Target.Bucket)
		w.Header().Set("Location", "/"+req.Bucket)
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(ok)
	return nil
}
