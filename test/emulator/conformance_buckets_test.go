package emulator

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestConformanceBucketsAndControl(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	hb, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(testBucket)})
	if err != nil || aws.ToString(hb.BucketRegion) != testRegion || aws.ToString(hb.BucketLocationName) != "usw2-az1" || hb.BucketLocationType != types.LocationTypeAvailabilityZone {
		t.Fatalf("HeadBucket: %v %+v", err, hb)
	}
	// The SDK's CreateSession fails first; its error is not wrapped with %w.
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing--usw2-az1--x-s3")}); err == nil || !strings.Contains(err.Error(), "StatusCode: 404") || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("HeadBucket missing: %v, want 404 NoSuchBucket", err)
	}
	nb := "fresh--usw2-az1--x-s3"
	e.ResetStats()
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(nb), CreateBucketConfiguration: &types.CreateBucketConfiguration{
		Location: &types.LocationInfo{Type: types.LocationTypeAvailabilityZone, Name: aws.String("usw2-az1")},
		Bucket:   &types.BucketInfo{Type: types.BucketTypeDirectory, DataRedundancy: types.DataRedundancySingleAvailabilityZone}}})
	if err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if st := e.Stats(); st.IAMRequests["CreateBucket"] != 1 || st.Requests["CreateSession"] != 0 {
		t.Errorf("CreateBucket stats %+v: want IAM-signed on the control host, no CreateSession", st)
	}
	lb, err := c.ListDirectoryBuckets(ctx, &s3.ListDirectoryBucketsInput{})
	if err != nil {
		t.Fatalf("ListDirectoryBuckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if strings.Join(names, ",") != "conformance--usw2-az1--x-s3,fresh--usw2-az1--x-s3,other--usw2-az1--x-s3" {
		t.Errorf("ListDirectoryBuckets = %v", names)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(nb), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject in new bucket: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(nb)}); httpStatus(err) != 409 || apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket non-empty: %v, want 409 BucketNotEmpty", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(nb), Key: aws.String("k")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(nb)}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(nb)}); httpStatus(err) != 404 {
		t.Fatalf("HeadBucket deleted: %v, want 404", err)
	}
}

func TestConformanceGeneralPurposeBucket(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	e.ResetStats()
	for _, k := range []string{"b", "a", "c/d"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(gpBucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	if got := getBytes(t, c, gpBucket, "c/d"); string(got) != "c/d" {
		t.Fatalf("GetObject = %q", got)
	}
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(gpBucket), Delimiter: aws.String("/")})
	if err != nil || len(v1.Contents) != 2 || aws.ToString(v1.Contents[0].Key) != "a" || len(v1.CommonPrefixes) != 1 {
		t.Fatalf("ListObjects V1: %v %+v", err, v1)
	}
	st := e.Stats()
	if st.Requests["CreateSession"] != 0 || st.IAMRequests["PutObject"] != 3 {
		t.Errorf("stats %+v: general-purpose buckets use plain SigV4 (service s3)", st)
	}
}
