package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// The ETag contract (docs/compat.md, "ETags") with the legacy clients that
// check ETags, in the proxy's default configuration: each of these failed
// before the contract was on by default.

const rclonePath = "/usr/bin/rclone"

// boto2ETagScript drives boto 2 (Debian python3-boto 2.49) against the proxy,
// path-style (OrdinaryCallingFormat), plain HTTP, with boto's default
// signature for a host that is not AWS's. boto 2 raises S3DataError
// ("ETag from S3 did not match computed MD5") when the ETag of a PUT or
// UploadPart answer is not the MD5 of what it sent.
const boto2ETagScript = `
import hashlib, io, json, os, sys
import boto
from boto.s3.connection import S3Connection, OrdinaryCallingFormat

conn = S3Connection(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                    host=os.environ["S3X_HOST"], port=int(os.environ["S3X_PORT"]),
                    is_secure=False, calling_format=OrdinaryCallingFormat())
mode, bucket_name, key_name, path = sys.argv[1:5]
bucket = conn.get_bucket(bucket_name, validate=False)
out = {}
if mode == "put":
    k = bucket.new_key(key_name)
    k.set_contents_from_filename(path)
    out["etag"] = k.etag
elif mode == "multipart":
    data = open(path, "rb").read()
    size = 5 << 20
    mp = bucket.initiate_multipart_upload(key_name)
    for i in range(0, len(data), size):
        mp.upload_part_from_file(io.BytesIO(data[i:i + size]), part_num=i // size + 1)
    out["etag"] = mp.complete_upload().etag
elif mode == "get":
    k = bucket.get_key(key_name)
    out["etag"] = k.etag
    k.get_contents_to_filename(path)
    out["md5"] = hashlib.md5(open(path, "rb").read()).hexdigest()
    out["listed"] = {x.name: x.etag for x in bucket.list(prefix=key_name)}
else:
    sys.exit("unknown mode " + mode)
print(json.dumps(out))
`

// TestLegacyBoto2ETags: boto 2 put, multipart upload and get with the default
// config: the PUT ETag is the MD5 boto 2 compares, every other ETag marked.
func TestLegacyBoto2ETags(t *testing.T) {
	needTool(t, pythonPath, "boto")
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.SigV2 = true }})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	script := c.file(t, "boto2_etags.py", []byte(boto2ETagScript))
	host, port, _ := strings.Cut(c.hostPort(), ":")
	py := func(t *testing.T, args ...string) map[string]any {
		t.Helper()
		vars := []string{"S3X_HOST=" + host, "S3X_PORT=" + port, "AWS_ACCESS_KEY_ID=" + rwKey,
			"AWS_SECRET_ACCESS_KEY=" + rwSecret, "BOTO_CONFIG=" + c.file(t, "boto.cfg", nil)}
		out, code := c.run(t, vars, "", pythonPath, append([]string{script}, args...)...)
		mustOK(t, "boto2 "+strings.Join(args, " "), out, code)
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("boto2 output: %v:\n%s", err, out)
		}
		return v
	}
	small, big := payload(70_000, 91), payload(11<<20+3, 92)

	t.Run("put", func(t *testing.T) {
		e.emu.ResetStats()
		res := py(t, "put", "data", "boto2/small", c.file(t, "small.bin", small))
		if res["etag"] != quotedMD5(small) {
			t.Errorf("PUT ETag %v, want the MD5 %s", res["etag"], quotedMD5(small))
		}
		if got := sdk.get(t, aliasData, "boto2/small"); !bytes.Equal(got, small) {
			t.Fatalf("stored %d bytes, want the %d uploaded", len(got), len(small))
		}
		sessionSigned(t, e, "PutObject")
	})

	t.Run("multipart", func(t *testing.T) {
		e.emu.ResetStats()
		res := py(t, "multipart", "data", "boto2/big", c.file(t, "big.bin", big))
		if etag, _ := res["etag"].(string); !strings.HasSuffix(etag, `-s3x"`) {
			t.Errorf("CompleteMultipartUpload ETag %q, want S3's marked", etag)
		}
		if st := e.emu.Stats(); st.Requests["UploadPart"] != 3 || st.Requests["CompleteMultipartUpload"] != 1 {
			t.Errorf("upstream %v, want 3 UploadPart and 1 CompleteMultipartUpload", st.Requests)
		}
		if got := sdk.get(t, aliasData, "boto2/big"); !bytes.Equal(got, big) {
			t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(big))
		}
	})

	t.Run("get", func(t *testing.T) {
		res := py(t, "get", "data", "boto2/big", c.file(t, "got.bin", nil))
		if got := c.read(t, "got.bin"); !bytes.Equal(got, big) {
			t.Fatalf("boto2 get: %d bytes differ from the %d uploaded", len(got), len(big))
		}
		etag, _ := res["etag"].(string)
		listed, _ := res["listed"].(map[string]any)
		if !strings.HasSuffix(etag, `-s3x"`) || listed["boto2/big"] != etag {
			t.Errorf("HEAD ETag %q, listed %v: want S3's, marked, the same in both", etag, listed)
		}
	})
}

// TestLegacyRclone: rclone (Debian 1.60) copyto and check, default config.
// rclone takes an ETag of 32 hex digits for the object's MD5 (backend/s3
// Object.Hash: matchMd5 `^[0-9a-f]{32}$`) and, after an upload, compares
// it with the source's: "corrupted on transfer: md5 hash differ". For a
// marked ETag it reads the MD5 from the object's X-Amz-Meta-Md5chksum
// (which it sets on multipart uploads) or has none.
func TestLegacyRclone(t *testing.T) {
	needTool(t, rclonePath)
	e := newEnv(t, envConfig{})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	vars := c.rcloneVars(t, "rclone.conf",
		"RCLONE_CONFIG_S3X_NO_CHECK_BUCKET=true",
		"RCLONE_CONFIG_S3X_UPLOAD_CUTOFF=5M",
		"RCLONE_CONFIG_S3X_CHUNK_SIZE=5M",
	)
	rclone := func(t *testing.T, args ...string) (string, int) {
		t.Helper()
		return c.run(t, vars, "", rclonePath, append([]string{"--retries", "1", "--low-level-retries", "1"}, args...)...)
	}
	if err := os.Mkdir(filepath.Join(c.dir, "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	small, big := payload(70_000, 93), payload(12<<20+7, 94)
	c.file(t, "src/small.bin", small)
	c.file(t, "src/big.bin", big)

	for _, f := range []struct {
		name string
		data []byte
	}{{"small.bin", small}, {"big.bin", big}} {
		t.Run("copyto "+f.name, func(t *testing.T) {
			out, code := rclone(t, "copyto", "src/"+f.name, "s3x:data/rclone/"+f.name)
			mustOK(t, "rclone copyto "+f.name, out, code)
			if got := sdk.get(t, aliasData, "rclone/"+f.name); !bytes.Equal(got, f.data) {
				t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(f.data))
			}
		})
	}

	t.Run("check", func(t *testing.T) {
		out, code := rclone(t, "check", "src", "s3x:data/rclone/")
		mustOK(t, "rclone check", out, code)
		// big.bin, a multipart upload, is compared by the MD5 rclone stored
		// in X-Amz-Meta-Md5chksum; small.bin has no MD5 (docs/compat.md).
		if !strings.Contains(out, "2 matching files") || !strings.Contains(out, "1 hashes could not be checked") {
			t.Errorf("rclone check: want 2 matching files, 1 hash not checked:\n%s", out)
		}
		out, code = rclone(t, "check", "--download", "src", "s3x:data/rclone/")
		mustOK(t, "rclone check --download", out, code)
	})

	t.Run("check finds a changed object", func(t *testing.T) {
		changed := append([]byte(nil), small...)
		changed[len(changed)/2] ^= 1
		sdk.put(t, aliasData, "rclone/small.bin", changed)
		out, code := rclone(t, "check", "--download", "src", "s3x:data/rclone/")
		if code == 0 || !strings.Contains(out, "1 differences found") {
			t.Errorf("rclone check --download after a change: exit %d, want 1 difference:\n%s", code, out)
		}
	})

	t.Run("sizes listed", func(t *testing.T) {
		out, code := rclone(t, "ls", "s3x:data/rclone/")
		mustOK(t, "rclone ls", out, code)
		for _, f := range []struct {
			name string
			n    int
		}{{"small.bin", len(small)}, {"big.bin", len(big)}} {
			if !strings.Contains(out, strconv.Itoa(f.n)+" "+f.name) {
				t.Errorf("rclone ls: no %d %s in:\n%s", f.n, f.name, out)
			}
		}
	})
}
