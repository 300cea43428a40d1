package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// boto3BucketScript creates, heads and deletes argv[1] with boto3, as
// tools that create their bucket on first use do (create_bucket with a
// LocationConstraint outside us-east-1), and prints "ok".
const boto3BucketScript = `
import os, sys
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["S3X_ENDPOINT"], region_name="us-west-2",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
name = sys.argv[1]
s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
s3.head_bucket(Bucket=name)
s3.put_object(Bucket=name, Key="k", Body=b"v")
s3.delete_object(Bucket=name, Key="k")
s3.delete_bucket(Bucket=name)
print("ok")
`

// TestLegacyBucketLifecycle: with buckets.default_zone on, the legacy
// tools' own bucket commands create and remove directory buckets: aws s3
// mb / rb, s3cmd mb / rb (SigV4 and SigV2), rclone mkdir / rmdir, boto3
// create_bucket / delete_bucket. Each checks the bucket exists upstream as
// <name>--usw2-az1--x-s3 in between, and is gone after.
func TestLegacyBucketLifecycle(t *testing.T) {
	e := lifecycleEnv(t, nil)
	c := newCLIEnv(t, e)
	exists := func(t *testing.T, name string) bool {
		t.Helper()
		status, _, _ := bucketReq(t, e, http.MethodHead, name+"--"+defaultZone+"--x-s3", "", false, rwCred, nil)
		return status == http.StatusOK
	}
	lifecycle := func(t *testing.T, name string, create, remove func(t *testing.T) (string, int)) {
		t.Helper()
		e.emu.ResetStats()
		out, code := create(t)
		mustOK(t, "create "+name, out, code)
		if !exists(t, name) {
			t.Fatalf("%s--%s--x-s3 was not created", name, defaultZone)
		}
		if st := e.emu.Stats(); st.IAMRequests["CreateBucket"] != 1 {
			t.Errorf("want one IAM-signed CreateBucket upstream: %+v", st)
		}
		out, code = remove(t)
		mustOK(t, "remove "+name, out, code)
		if exists(t, name) {
			t.Errorf("%s still exists after removal", name)
		}
	}

	t.Run("aws s3 mb rb", func(t *testing.T) {
		needTool(t, awsPath)
		lifecycle(t, "aws-mb",
			func(t *testing.T) (string, int) { return c.aws(t, rwKey, rwSecret, "s3", "mb", "s3://aws-mb") },
			func(t *testing.T) (string, int) { return c.aws(t, rwKey, rwSecret, "s3", "rb", "s3://aws-mb") })
	})
	t.Run("aws s3api create-bucket with LocationConstraint", func(t *testing.T) {
		needTool(t, awsPath)
		lifecycle(t, "aws-api",
			func(t *testing.T) (string, int) {
				return c.aws(t, rwKey, rwSecret, "s3api", "create-bucket", "--bucket", "aws-api",
					"--create-bucket-configuration", "LocationConstraint=us-west-2")
			},
			func(t *testing.T) (string, int) {
				return c.aws(t, rwKey, rwSecret, "s3api", "delete-bucket", "--bucket", "aws-api")
			})
	})
	t.Run("aws s3 mb without create_buckets", func(t *testing.T) {
		needTool(t, awsPath)
		out, code := c.aws(t, noCreateKey, noCreateSecret, "s3", "mb", "s3://aws-denied")
		if code == 0 || !strings.Contains(out, "AccessDenied") {
			t.Errorf("aws s3 mb by a key without create_buckets: exit %d:\n%s", code, out)
		}
	})
	for _, v2 := range []bool{false, true} {
		name := map[bool]string{false: "s3cmd-v4", true: "s3cmd-v2"}[v2]
		t.Run("s3cmd mb rb "+name, func(t *testing.T) {
			needTool(t, s3cmdPath)
			cfg := c.s3cmdConfig(t, name+".cfg", rwKey, rwSecret, false, "")
			var flags []string
			if v2 {
				flags = []string{"--signature-v2"}
			}
			n := len(e.recs.all())
			lifecycle(t, name,
				func(t *testing.T) (string, int) { return c.s3cmd(t, cfg, append(flags, "mb", "s3://"+name)...) },
				func(t *testing.T) (string, int) { return c.s3cmd(t, cfg, append(flags, "rb", "s3://"+name)...) })
			seen := 0
			for _, r := range e.recs.all()[n:] {
				if r.Operation == "CreateBucket" || r.Operation == "DeleteBucket" {
					seen++
					if strings.HasPrefix(r.AuthType, "sigv2") != v2 {
						t.Errorf("%s signed %s", r.Operation, r.AuthType)
					}
				}
			}
			if seen < 2 {
				t.Errorf("%d CreateBucket/DeleteBucket records, want 2", seen)
			}
		})
	}
	t.Run("rclone mkdir rmdir", func(t *testing.T) {
		needTool(t, rclonePath)
		vars := c.rcloneVars(t, "rclone.conf")
		rclone := func(args ...string) func(t *testing.T) (string, int) {
			return func(t *testing.T) (string, int) {
				return c.run(t, vars, "", rclonePath, append([]string{"--retries", "1", "--low-level-retries", "1"}, args...)...)
			}
		}
		lifecycle(t, "rclone-dir", rclone("mkdir", "s3x:rclone-dir"), rclone("rmdir", "s3x:rclone-dir"))
	})
	t.Run("boto3 create_bucket delete_bucket", func(t *testing.T) {
		needTool(t, pythonPath, "boto3", "botocore")
		script := c.file(t, "boto3_buckets.py", []byte(boto3BucketScript))
		vars := []string{"S3X_ENDPOINT=" + e.srv.URL, "AWS_ACCESS_KEY_ID=" + rwKey, "AWS_SECRET_ACCESS_KEY=" + rwSecret}
		e.emu.ResetStats()
		out, code := c.run(t, vars, "", pythonPath, script, "boto3-bucket")
		if mustOK(t, "boto3 bucket lifecycle", out, code); strings.TrimSpace(out) != "ok" {
			t.Errorf("boto3: %s", out)
		}
		if st := e.emu.Stats(); st.IAMRequests["CreateBucket"] != 1 || st.IAMRequests["DeleteBucket"] != 1 {
			t.Errorf("want one CreateBucket and one DeleteBucket upstream: %+v", st)
		}
	})
}
