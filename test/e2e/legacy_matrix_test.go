package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The client matrix cells the per-client tests (legacy_clients_test.go,
// legacy_etags_test.go, legacy_boto2*_test.go, legacy_buckets_test.go,
// legacy_awsjs_test.go) leave out: copy, head, ListObjectsV2 with and
// without a delimiter, multi-object delete, for boto3, the aws CLI, s3cmd
// and rclone, under the default configuration.

// boto3MatrixScript: head, copy, upload_file in parts, list_objects_v2
// with and without a delimiter, delete_objects; prints a JSON summary.
const boto3MatrixScript = `
import io, json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["S3X_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
bucket, p = sys.argv[1], sys.argv[2]
small = bytes(range(256)) * 100
s3.put_object(Bucket=bucket, Key=p + "small", Body=small)
head = s3.head_object(Bucket=bucket, Key=p + "small")
s3.copy_object(Bucket=bucket, Key=p + "dir/copy", CopySource={"Bucket": bucket, "Key": p + "small"})
big = bytes((i * 7) % 251 for i in range(11 << 20))
s3.upload_fileobj(io.BytesIO(big), bucket, p + "big", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
if s3.get_object(Bucket=bucket, Key=p + "big")["Body"].read() != big:
    sys.exit("multipart object differs")
if s3.get_object(Bucket=bucket, Key=p + "dir/copy")["Body"].read() != small:
    sys.exit("copy differs")
flat = s3.list_objects_v2(Bucket=bucket, Prefix=p)
tops = s3.list_objects_v2(Bucket=bucket, Prefix=p, Delimiter="/")
keys = lambda r: sorted(o["Key"] for o in r.get("Contents", []))
dels = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys(flat)]})
print(json.dumps({"size": head["ContentLength"], "flat": keys(flat),
    "tops": keys(tops) + sorted(c["Prefix"] for c in tops.get("CommonPrefixes", [])),
    "deleted": len(dels.get("Deleted", [])), "errors": len(dels.get("Errors", []))}))
`

// TestLegacyMatrix fills the matrix cells named above, one subtest per
// client.
func TestLegacyMatrix(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)

	t.Run("boto3", func(t *testing.T) {
		needTool(t, pythonPath, "boto3", "botocore")
		script := c.file(t, "boto3_matrix.py", []byte(boto3MatrixScript))
		vars := []string{"S3X_ENDPOINT=" + e.srv.URL, "AWS_ACCESS_KEY_ID=" + rwKey, "AWS_SECRET_ACCESS_KEY=" + rwSecret}
		e.emu.ResetStats()
		out, code := c.run(t, vars, "", pythonPath, script, aliasData, "b3m/")
		mustOK(t, "boto3 matrix", out, code)
		var res struct {
			Size            int
			Flat, Tops      []string
			Deleted, Errors int
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("boto3 output: %v:\n%s", err, out)
		}
		if res.Size != 25600 || !slices.Equal(res.Flat, []string{"b3m/big", "b3m/dir/copy", "b3m/small"}) ||
			!slices.Equal(res.Tops, []string{"b3m/big", "b3m/small", "b3m/dir/"}) || res.Deleted != 3 || res.Errors != 0 {
			t.Errorf("boto3: %+v", res)
		}
		sessionSigned(t, e, "PutObject", "UploadPart", "ListObjectsV2", "DeleteObjects")
		if st := e.emu.Stats(); st.IAMRequests["CopyObject"] != 1 {
			t.Errorf("CopyObject upstream: %+v", st.IAMRequests)
		}
	})

	t.Run("aws CLI", func(t *testing.T) {
		needTool(t, awsPath)
		aws := func(args ...string) string {
			t.Helper()
			out, code := c.aws(t, rwKey, rwSecret, args...)
			return mustOK(t, "aws "+strings.Join(args, " "), out, code)
		}
		sdk.put(t, aliasData, "clim/a", []byte("aaa"))
		aws("s3", "cp", "s3://data/clim/a", "s3://data/clim/dir/b")
		if got := sdk.get(t, aliasData, "clim/dir/b"); string(got) != "aaa" {
			t.Errorf("copy holds %q", got)
		}
		var head struct{ ContentLength int }
		if err := json.Unmarshal([]byte(aws("s3api", "head-object", "--bucket", "data", "--key", "clim/dir/b", "--output", "json")), &head); err != nil || head.ContentLength != 3 {
			t.Errorf("head-object: %+v %v", head, err)
		}
		if out := aws("s3", "ls", "--recursive", "s3://data/clim/"); !strings.Contains(out, "clim/dir/b") || !strings.Contains(out, "clim/a") {
			t.Errorf("ls --recursive (V2, no delimiter):\n%s", out)
		}
		var v2 struct {
			Contents       []struct{ Key string }
			CommonPrefixes []struct{ Prefix string }
		}
		if err := json.Unmarshal([]byte(aws("s3api", "list-objects-v2", "--bucket", "data", "--prefix", "clim/", "--delimiter", "/", "--output", "json")), &v2); err != nil ||
			len(v2.Contents) != 1 || len(v2.CommonPrefixes) != 1 || v2.CommonPrefixes[0].Prefix != "clim/dir/" {
			t.Errorf("list-objects-v2 with delimiter: %+v %v", v2, err)
		}
		aws("s3api", "delete-objects", "--bucket", "data", "--delete", `{"Objects":[{"Key":"clim/a"},{"Key":"clim/dir/b"}]}`)
		if objectStatus(t, e, "clim/a") != 404 || objectStatus(t, e, "clim/dir/b") != 404 {
			t.Errorf("objects left after delete-objects")
		}
	})

	t.Run("s3cmd", func(t *testing.T) {
		needTool(t, s3cmdPath)
		for _, v2 := range []bool{false, true} {
			cfg := c.s3cmdConfig(t, "s3cmd-matrix.cfg", rwKey, rwSecret, false, "")
			args := func(a ...string) []string {
				if v2 {
					return append([]string{"--signature-v2"}, a...)
				}
				return a
			}
			k := map[bool]string{false: "s3cmdm4/", true: "s3cmdm2/"}[v2]
			sdk.put(t, aliasData, k+"a", []byte("abc"))
			s3cmdOK(t, c, cfg, args("cp", "s3://data/"+k+"a", "s3://data/"+k+"dir/b")...)
			if got := sdk.get(t, aliasData, k+"dir/b"); string(got) != "abc" {
				t.Errorf("s3cmd cp (v2 %v) holds %q", v2, got)
			}
			if out := s3cmdOK(t, c, cfg, args("ls", "--recursive", "s3://data/"+k)...); !strings.Contains(out, k+"dir/b") {
				t.Errorf("s3cmd ls --recursive (v2 %v):\n%s", v2, out)
			}
			s3cmdOK(t, c, cfg, args("del", "--recursive", "--force", "s3://data/"+k)...)
			if objectStatus(t, e, k+"a") != 404 {
				t.Errorf("s3cmd del --recursive (v2 %v) left %sa", v2, k)
			}
		}
	})

	t.Run("rclone", func(t *testing.T) {
		needTool(t, rclonePath)
		vars := c.rcloneVars(t, "rclone-m.conf", "RCLONE_CONFIG_S3X_NO_CHECK_BUCKET=true")
		rclone := func(args ...string) string {
			t.Helper()
			out, code := c.run(t, vars, "", rclonePath, append([]string{"--retries", "1", "--low-level-retries", "1"}, args...)...)
			return mustOK(t, "rclone "+strings.Join(args, " "), out, code)
		}
		if err := os.WriteFile(filepath.Join(c.dir, "rm.txt"), []byte("rclone matrix"), 0o600); err != nil {
			t.Fatal(err)
		}
		rclone("copyto", filepath.Join(c.dir, "rm.txt"), "s3x:data/rcm/a.txt")
		rclone("copyto", "s3x:data/rcm/a.txt", "s3x:data/rcm/dir/b.txt") // server-side copy
		if got := sdk.get(t, aliasData, "rcm/dir/b.txt"); !bytes.Equal(got, []byte("rclone matrix")) {
			t.Errorf("server-side copy holds %q", got)
		}
		for _, v := range []string{"1", "2"} {
			out := rclone("lsf", "-R", "--s3-list-version", v, "s3x:data/rcm")
			if !strings.Contains(out, "a.txt") || !strings.Contains(out, "dir/b.txt") {
				t.Errorf("lsf -R (list V%s):\n%s", v, out)
			}
			if top := rclone("lsf", "--s3-list-version", v, "s3x:data/rcm"); !strings.Contains(top, "dir/") || strings.Contains(top, "b.txt") {
				t.Errorf("lsf (list V%s, delimiter):\n%s", v, top)
			}
		}
		rclone("cat", "s3x:data/rcm/a.txt")
		rclone("purge", "s3x:data/rcm")
		if objectStatus(t, e, "rcm/a.txt") != 404 || objectStatus(t, e, "rcm/dir/b.txt") != 404 {
			t.Errorf("rclone purge left objects")
		}
	})
}
