package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// The tests in this file drive s3xproxy with the real legacy client
// programs it exists for: s3cmd (SigV4 and SigV2), the aws CLI v2 and boto3
// (system python). Each test runs one proxy env and its subtests in order:
// later subtests use what earlier ones stored. A missing tool skips the
// test, or fails it when S3X_REQUIRE_LEGACY_CLIENTS=1 (CI).

// TestLegacyS3cmd: s3cmd 2.x, path-style, SigV4 then SigV2. s3cmd compares
// the ETag of every PutObject / UploadPart answer with the MD5 of what it
// sent (S3/S3.py S3.send_file: "MD5 Sums don't match!", then it retries and
// exits non-zero), and S3 Express ETags are never MD5 digests, so its
// uploads rely on the default ETag contract (docs/compat.md, "ETags").
func TestLegacyS3cmd(t *testing.T) {
	needTool(t, s3cmdPath)
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.SigV2 = true
	}})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	small, big := payload(1000, 11), payload(20<<20, 12)
	fSmall, fBig := c.file(t, "small.bin", small), c.file(t, "big.bin", big)
	// The first subtest uses s3cmd's default storage class (STANDARD, which
	// the proxy drops); the others ask for EXPRESS_ONEZONE explicitly.
	cfg := c.s3cmdConfig(t, "s3cfg", rwKey, rwSecret, false, "EXPRESS_ONEZONE")

	t.Run("put with s3cmd's default storage class", func(t *testing.T) {
		def := c.s3cmdConfig(t, "s3cfg-default-class", rwKey, rwSecret, false, "")
		out, code := c.s3cmd(t, def, "put", fSmall, "s3://data/s3cmd/default-class")
		if code != 0 && strings.Contains(out, "InvalidStorageClass") {
			t.Fatalf("s3cmd's default x-amz-storage-class: STANDARD was refused; the proxy must drop it (compat.StorageClass): %s", out)
		}
		mustOK(t, "s3cmd put", out, code)
		if got := sdk.get(t, aliasData, "s3cmd/default-class"); !bytes.Equal(got, small) {
			t.Fatalf("stored %d bytes, want the %d uploaded", len(got), len(small))
		}
	})

	t.Run("put small", func(t *testing.T) {
		e.emu.ResetStats()
		out, code := c.s3cmd(t, cfg, "put", fSmall, "s3://data/s3cmd/small")
		if got := sdk.get(t, aliasData, "s3cmd/small"); !bytes.Equal(got, small) {
			t.Fatalf("stored %d bytes, want the %d uploaded (exit %d: %s)", len(got), len(small), code, out)
		}
		sessionSigned(t, e, "PutObject")
		mustOK(t, "s3cmd put", out, code)
	})

	t.Run("put 20 MiB multipart", func(t *testing.T) {
		e.emu.ResetStats()
		out, code := c.s3cmd(t, cfg, "--multipart-chunk-size-mb=5", "put", fBig, "s3://data/s3cmd/big")
		// s3cmd sends no Content-MD5 with its parts: their ETags are S3's,
		// marked, and Complete unmarks them without a ListParts call.
		sessionSigned(t, e, "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
		mustOK(t, "s3cmd put", out, code)
		if st := e.emu.Stats(); st.Requests["UploadPart"] != 4 || st.SessionRequests["CompleteMultipartUpload"] != 1 {
			t.Errorf("upstream %v, want 4 UploadPart and 1 CompleteMultipartUpload", st.Requests)
		}
		if got := sdk.get(t, aliasData, "s3cmd/big"); !bytes.Equal(got, big) {
			t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(big))
		}
	})

	t.Run("get", func(t *testing.T) {
		for _, tt := range []struct {
			key  string
			want []byte
		}{{"s3cmd/small", small}, {"s3cmd/big", big}} {
			e.emu.ResetStats()
			s3cmdOK(t, c, cfg, "get", "--force", "s3://data/"+tt.key, "got.bin")
			if got := c.read(t, "got.bin"); !bytes.Equal(got, tt.want) {
				t.Errorf("s3cmd get %s: %d bytes, not the %d uploaded", tt.key, len(got), len(tt.want))
			}
			sessionSigned(t, e, "GetObject")
		}
	})

	// Objects for the listings, stored with the SDK.
	for _, k := range []string{"s3cmd/dir/file1", "s3cmd/dir/file2", "s3cmd/dir/fizz/x", "s3cmd/dir/other"} {
		sdk.put(t, aliasData, k, []byte(k))
	}

	t.Run("ls", func(t *testing.T) {
		for _, tt := range []struct {
			uri       string
			want, not []string
		}{
			{"s3://data/", []string{"DIR  s3://data/s3cmd/"}, []string{"s3://data/s3cmd/small"}},
			{"s3://data/s3cmd/", []string{"DIR  s3://data/s3cmd/dir/", "1000  s3://data/s3cmd/small", "20971520  s3://data/s3cmd/big"}, nil},
			// Prefix not ending in "/": the proxy's prefix-filter shim.
			{"s3://data/s3cmd/dir/fi", []string{"s3://data/s3cmd/dir/file1", "s3://data/s3cmd/dir/file2", "DIR  s3://data/s3cmd/dir/fizz/"},
				[]string{"s3://data/s3cmd/dir/other", "s3://data/s3cmd/dir/fizz/x"}},
		} {
			e.emu.ResetStats()
			out := s3cmdOK(t, c, cfg, "ls", tt.uri)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("s3cmd ls %s: no %q in:\n%s", tt.uri, w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("s3cmd ls %s: unexpected %q in:\n%s", tt.uri, n, out)
				}
			}
			// s3cmd lists with V1; the proxy answers it with V2 upstream.
			if st := e.emu.Stats(); st.Requests["ListObjects"] != 0 {
				t.Errorf("ListObjects (V1) reached the emulator: %v", st.Requests)
			}
			sessionSigned(t, e, "ListObjectsV2")
		}
	})

	t.Run("ls buckets", func(t *testing.T) {
		e.emu.ResetStats()
		out := s3cmdOK(t, c, cfg, "ls")
		for _, b := range []string{aliasData, bucketData, bucketOther} {
			if !regexp.MustCompile(`(?m)\ss3://` + regexp.QuoteMeta(b) + `$`).MatchString(out) {
				t.Errorf("s3cmd ls: bucket %s missing:\n%s", b, out)
			}
		}
		if st := e.emu.Stats(); st.IAMRequests["ListDirectoryBuckets"] < 1 {
			t.Errorf("no IAM-signed ListDirectoryBuckets upstream: %+v", st)
		}
	})

	t.Run("info", func(t *testing.T) {
		out := s3cmdOK(t, c, cfg, "info", "s3://data/s3cmd/small")
		if !regexp.MustCompile(`File size:\s+1000\b`).MatchString(out) {
			t.Errorf("s3cmd info object:\n%s", out)
		}
		// Bucket info asks ?location (the proxy's GetBucketLocation handler).
		out = s3cmdOK(t, c, cfg, "info", "s3://data")
		if !regexp.MustCompile(`Location:\s+us-west-2`).MatchString(out) {
			t.Errorf("s3cmd info bucket: want Location us-west-2:\n%s", out)
		}
	})

	t.Run("del", func(t *testing.T) {
		e.emu.ResetStats()
		s3cmdOK(t, c, cfg, "del", "s3://data/s3cmd/small")
		sessionSigned(t, e, "DeleteObject")
		if s := objectStatus(t, e, "s3cmd/small"); s != http.StatusNotFound {
			t.Errorf("HEAD after s3cmd del: %d, want 404", s)
		}
	})

	t.Run("del recursive (DeleteObjects with Content-MD5)", func(t *testing.T) {
		e.emu.ResetStats()
		s3cmdOK(t, c, cfg, "del", "--recursive", "--force", "s3://data/s3cmd/")
		sessionSigned(t, e, "DeleteObjects")
		if st := e.emu.Stats(); total(st.Rejections) != 0 {
			t.Errorf("emulator rejections: %v", st.Rejections)
		}
		if keys := sdk.list(t, aliasData, "s3cmd/"); len(keys) != 0 {
			t.Errorf("left after del --recursive: %v", keys)
		}
	})

	t.Run("signature v2", func(t *testing.T) {
		v2 := c.s3cmdConfig(t, "s3cfg-v2", rwKey, rwSecret, true, "EXPRESS_ONEZONE")
		sdk.put(t, aliasData, "s3cmd-v2/seed", big[:3<<20])
		n := len(e.recs.all())
		out := s3cmdOK(t, c, v2, "ls", "s3://data/s3cmd-v2/")
		if !strings.Contains(out, "3145728  s3://data/s3cmd-v2/seed") {
			t.Errorf("s3cmd ls (SigV2):\n%s", out)
		}
		s3cmdOK(t, c, v2, "get", "--force", "s3://data/s3cmd-v2/seed", "got-v2.bin")
		if got := c.read(t, "got-v2.bin"); !bytes.Equal(got, big[:3<<20]) {
			t.Errorf("s3cmd get (SigV2): %d bytes differ from the stored %d", len(got), 3<<20)
		}
		recs := e.recs.all()[n:]
		if len(recs) == 0 {
			t.Fatal("no access records")
		}
		for _, r := range recs {
			if r.AuthType != "sigv2" || r.Identity != rwKey || r.Status >= 300 {
				t.Errorf("record %+v: want sigv2 by %s, success", r, rwKey)
			}
		}

		e.emu.ResetStats()
		out, code := c.s3cmd(t, v2, "put", fSmall, "s3://data/s3cmd-v2/small")
		if got := sdk.get(t, aliasData, "s3cmd-v2/small"); !bytes.Equal(got, small) {
			t.Fatalf("stored %d bytes, want the %d uploaded (exit %d: %s)", len(got), len(small), code, out)
		}
		sessionSigned(t, e, "PutObject")
		mustOK(t, "s3cmd --signature-v2 put", out, code)
	})
}

// s3cmdOK runs s3cmd and fails t unless it exits 0.
func s3cmdOK(t *testing.T, c *cliEnv, cfg string, args ...string) string {
	t.Helper()
	out, code := c.s3cmd(t, cfg, args...)
	return mustOK(t, "s3cmd "+strings.Join(args, " "), out, code)
}

// TestLegacyAWSCLI: aws CLI v2, path-style via the config file.
func TestLegacyAWSCLI(t *testing.T) {
	needTool(t, awsPath)
	e := newEnv(t, envConfig{})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	small, big := payload(1000, 21), payload(20<<20, 22)
	fSmall, fBig := c.file(t, "small.bin", small), c.file(t, "big.bin", big)
	aws := func(t *testing.T, args ...string) string {
		t.Helper()
		out, code := c.aws(t, rwKey, rwSecret, args...)
		return mustOK(t, "aws "+strings.Join(args, " "), out, code)
	}

	t.Run("cp up", func(t *testing.T) {
		e.emu.ResetStats()
		aws(t, "s3", "cp", "--no-progress", fSmall, "s3://data/awscli/small")
		sessionSigned(t, e, "PutObject")
		if got := sdk.get(t, aliasData, "awscli/small"); !bytes.Equal(got, small) {
			t.Errorf("stored %d bytes, want the %d uploaded", len(got), len(small))
		}

		// Above 8 MiB the CLI uploads in 8 MiB parts.
		e.emu.ResetStats()
		aws(t, "s3", "cp", "--no-progress", fBig, "s3://data/awscli/big")
		sessionSigned(t, e, "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
		if st := e.emu.Stats(); st.Requests["UploadPart"] != 3 || st.Requests["PutObject"] != 0 {
			t.Errorf("upstream %v, want 3 UploadPart", st.Requests)
		}
		if got := sdk.get(t, aliasData, "awscli/big"); !bytes.Equal(got, big) {
			t.Errorf("stored %d bytes differ from the %d uploaded", len(got), len(big))
		}
	})

	t.Run("cp down", func(t *testing.T) {
		for _, tt := range []struct {
			key  string
			want []byte
		}{{"awscli/small", small}, {"awscli/big", big}} {
			e.emu.ResetStats()
			aws(t, "s3", "cp", "--no-progress", "s3://data/"+tt.key, "got.bin")
			if got := c.read(t, "got.bin"); !bytes.Equal(got, tt.want) {
				t.Errorf("aws s3 cp %s: %d bytes, not the %d uploaded", tt.key, len(got), len(tt.want))
			}
			sessionSigned(t, e, "GetObject")
		}
	})

	for _, k := range []string{"awscli/dir/file1", "awscli/dir/file2", "awscli/dir/fizz/x", "awscli/dir/other"} {
		sdk.put(t, aliasData, k, []byte(k))
	}

	t.Run("s3 ls", func(t *testing.T) {
		for _, tt := range []struct {
			uri       string
			want, not []string
		}{
			{"s3://data/", []string{"PRE awscli/"}, []string{"small"}},
			{"s3://data/awscli/", []string{"PRE dir/", " 1000 small", " 20971520 big"}, nil},
			// Prefix not ending in "/": the proxy's prefix-filter shim.
			{"s3://data/awscli/dir/fi", []string{" file1", " file2", "PRE fizz/"}, []string{"other", " x"}},
		} {
			e.emu.ResetStats()
			out := aws(t, "s3", "ls", tt.uri)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("aws s3 ls %s: no %q in:\n%s", tt.uri, w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("aws s3 ls %s: unexpected %q in:\n%s", tt.uri, n, out)
				}
			}
			sessionSigned(t, e, "ListObjectsV2")
		}
	})

	t.Run("s3api list-objects (V1)", func(t *testing.T) {
		e.emu.ResetStats()
		var res struct {
			Contents []struct {
				Key  string
				Size int64
			}
			CommonPrefixes []struct{ Prefix string }
		}
		out := aws(t, "s3api", "list-objects", "--bucket", "data", "--prefix", "awscli/", "--output", "json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("list-objects output: %v:\n%s", err, out)
		}
		var keys []string
		for _, o := range res.Contents {
			keys = append(keys, o.Key)
		}
		slices.Sort(keys)
		want := []string{"awscli/big", "awscli/dir/file1", "awscli/dir/file2", "awscli/dir/fizz/x", "awscli/dir/other", "awscli/small"}
		if !slices.Equal(keys, want) {
			t.Errorf("list-objects keys %v, want %v", keys, want)
		}
		if st := e.emu.Stats(); st.Requests["ListObjects"] != 0 {
			t.Errorf("ListObjects (V1) reached the emulator: %v", st.Requests)
		}
		sessionSigned(t, e, "ListObjectsV2")

		// V1 with a delimiter and a prefix not ending in "/".
		out = aws(t, "s3api", "list-objects", "--bucket", "data", "--prefix", "awscli/dir/fi", "--delimiter", "/", "--output", "json")
		res.Contents, res.CommonPrefixes = nil, nil
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("list-objects output: %v:\n%s", err, out)
		}
		keys = keys[:0]
		for _, o := range res.Contents {
			keys = append(keys, o.Key)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"awscli/dir/file1", "awscli/dir/file2"}) ||
			len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0].Prefix != "awscli/dir/fizz/" {
			t.Errorf("list-objects prefix awscli/dir/fi: %s", out)
		}
	})

	t.Run("s3api list-buckets", func(t *testing.T) {
		e.emu.ResetStats()
		var res struct{ Buckets []struct{ Name string } }
		out := aws(t, "s3api", "list-buckets", "--output", "json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("list-buckets output: %v:\n%s", err, out)
		}
		var names []string
		for _, b := range res.Buckets {
			names = append(names, b.Name)
		}
		slices.Sort(names)
		if want := []string{aliasData, bucketData, bucketOther}; !slices.Equal(names, want) {
			t.Errorf("list-buckets %v, want %v", names, want)
		}
		if st := e.emu.Stats(); st.IAMRequests["ListDirectoryBuckets"] < 1 {
			t.Errorf("no IAM-signed ListDirectoryBuckets upstream: %+v", st)
		}
	})

	t.Run("presign", func(t *testing.T) {
		u := strings.TrimSpace(aws(t, "s3", "presign", "s3://data/awscli/small", "--expires-in", "300"))
		pu, err := url.Parse(u)
		if err != nil || pu.Host != c.hostPort() || pu.Query().Get("X-Amz-Expires") != "300" {
			t.Fatalf("presigned URL %q (%v)", u, err)
		}
		e.emu.ResetStats()
		got := httpGet(t, u, http.StatusOK)
		if !bytes.Equal(got, small) {
			t.Errorf("presigned GET: %d bytes, want the %d uploaded", len(got), len(small))
		}
		sessionSigned(t, e, "GetObject")
	})

	t.Run("rm", func(t *testing.T) {
		e.emu.ResetStats()
		aws(t, "s3", "rm", "s3://data/awscli/small")
		sessionSigned(t, e, "DeleteObject")
		if s := objectStatus(t, e, "awscli/small"); s != http.StatusNotFound {
			t.Errorf("HEAD after aws s3 rm: %d, want 404", s)
		}
		aws(t, "s3", "rm", "--recursive", "s3://data/awscli/")
		if keys := sdk.list(t, aliasData, "awscli/"); len(keys) != 0 {
			t.Errorf("left after aws s3 rm --recursive: %v", keys)
		}
	})
}

// httpGet fetches u with net/http and checks the status.
func httpGet(t *testing.T, u string, status int) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, status, b)
	}
	return b
}

// boto3Script is run by /usr/bin/python3 with S3X_ENDPOINT and the AWS_*
// keys in its environment; argv[1] picks what it does, and it prints JSON.
const boto3Script = `
import json, os, sys
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["S3X_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
mode, bucket, key = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "presign":
    print(json.dumps({
        "get": s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300),
        "put": s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300),
    }))
elif mode == "roundtrip":
    body = bytes(range(256)) * 4099
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if got != body:
        sys.exit("get_object returned %d bytes, put %d" % (len(got), len(body)))
    flat = s3.list_objects(Bucket=bucket, Prefix=key.rsplit("/", 1)[0] + "/")
    cut = s3.list_objects(Bucket=bucket, Prefix=key[:-1], Delimiter="/")
    print(json.dumps({
        "size": len(body),
        "flat": sorted(o["Key"] for o in flat.get("Contents", [])),
        "cut": sorted(o["Key"] for o in cut.get("Contents", [])),
    }))
else:
    sys.exit("unknown mode " + mode)
`

// TestLegacyBoto3: presigned GET/PUT URLs from boto3, used with net/http,
// and a plain put/get/list_objects round trip.
func TestLegacyBoto3(t *testing.T) {
	needTool(t, pythonPath, "boto3", "botocore")
	e := newEnv(t, envConfig{})
	c := newCLIEnv(t, e)
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	script := c.file(t, "boto3_legacy.py", []byte(boto3Script))
	py := func(t *testing.T, v any, args ...string) {
		t.Helper()
		vars := []string{"S3X_ENDPOINT=" + e.srv.URL, "AWS_ACCESS_KEY_ID=" + rwKey, "AWS_SECRET_ACCESS_KEY=" + rwSecret}
		out, code := c.run(t, vars, "", pythonPath, append([]string{script}, args...)...)
		mustOK(t, "boto3 "+strings.Join(args, " "), out, code)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("boto3 output: %v:\n%s", err, out)
		}
	}

	t.Run("presigned put and get", func(t *testing.T) {
		var urls struct{ Get, Put string }
		py(t, &urls, "presign", "data", "boto3/presigned")
		body := payload(3<<20+5, 31)
		e.emu.ResetStats()
		req, err := http.NewRequest(http.MethodPut, urls.Put, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		status, b, _ := do(t, req)
		if status != http.StatusOK {
			t.Fatalf("presigned PUT: %d %s", status, b)
		}
		sessionSigned(t, e, "PutObject")
		if got := sdk.get(t, aliasData, "boto3/presigned"); !bytes.Equal(got, body) {
			t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(body))
		}
		if got := httpGet(t, urls.Get, http.StatusOK); !bytes.Equal(got, body) {
			t.Errorf("presigned GET: %d bytes differ from the %d uploaded", len(got), len(body))
		}
		// Each URL is bound to its method and key.
		if _, err := url.Parse(urls.Get); err != nil {
			t.Fatal(err)
		}
		httpGet(t, strings.Replace(urls.Get, "/boto3/presigned?", "/boto3/other?", 1), http.StatusForbidden)
		httpGet(t, urls.Put, http.StatusForbidden)
	})

	t.Run("put_object get_object list_objects", func(t *testing.T) {
		sdk.put(t, aliasData, "boto3/rt/other", []byte("x"))
		sdk.put(t, aliasData, "boto3/rt/objz/y", []byte("y"))
		e.emu.ResetStats()
		var res struct {
			Size      int
			Flat, Cut []string
		}
		py(t, &res, "roundtrip", "data", "boto3/rt/obj")
		want := bytes.Repeat(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 4099)
		if got := sdk.get(t, aliasData, "boto3/rt/obj"); !bytes.Equal(got, want) {
			t.Errorf("stored %d bytes differ from the %d boto3 put", len(got), len(want))
		}
		if !slices.Equal(res.Flat, []string{"boto3/rt/obj", "boto3/rt/objz/y", "boto3/rt/other"}) || !slices.Equal(res.Cut, []string{"boto3/rt/obj"}) {
			t.Errorf("list_objects: %+v", res)
		}
		st := e.emu.Stats()
		if st.Requests["ListObjects"] != 0 {
			t.Errorf("ListObjects (V1) reached the emulator: %v", st.Requests)
		}
		sessionSigned(t, e, "PutObject", "GetObject", "ListObjectsV2")
	})
}

// TestLegacyAuthFailures: a wrong secret fails in s3cmd and the aws CLI
// without anything reaching the emulator, and a read-only key cannot upload.
func TestLegacyAuthFailures(t *testing.T) {
	haveS3cmd, haveAWS := toolPresent(s3cmdPath), toolPresent(awsPath)
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.SigV2 = true }})
	c := newCLIEnv(t, e)
	f := c.file(t, "f.bin", payload(100, 41))
	badSecret := rwSecret[:len(rwSecret)-1] + "X"
	s3cmdBad := c.s3cmdConfig(t, "s3cfg-bad", rwKey, badSecret, false, "EXPRESS_ONEZONE")
	s3cmdBadV2 := c.s3cmdConfig(t, "s3cfg-bad-v2", rwKey, badSecret, true, "EXPRESS_ONEZONE")
	s3cmdRO := c.s3cmdConfig(t, "s3cfg-ro", roKey, roSecret, false, "EXPRESS_ONEZONE")
	tests := []struct {
		name string
		run  func(t *testing.T) (string, int)
		tool string
		code string // S3 error code in the output
		key  string // must not exist afterwards
	}{
		{"s3cmd wrong secret ls", func(t *testing.T) (string, int) { return c.s3cmd(t, s3cmdBad, "ls", "s3://data/") }, s3cmdPath, "SignatureDoesNotMatch", ""},
		{"s3cmd wrong secret put", func(t *testing.T) (string, int) { return c.s3cmd(t, s3cmdBad, "put", f, "s3://data/neg/s3cmd") }, s3cmdPath, "SignatureDoesNotMatch", "neg/s3cmd"},
		{"s3cmd SigV2 wrong secret ls", func(t *testing.T) (string, int) { return c.s3cmd(t, s3cmdBadV2, "ls", "s3://data/") }, s3cmdPath, "SignatureDoesNotMatch", ""},
		{"s3cmd SigV2 wrong secret put", func(t *testing.T) (string, int) { return c.s3cmd(t, s3cmdBadV2, "put", f, "s3://data/neg/s3cmd-v2") }, s3cmdPath, "SignatureDoesNotMatch", "neg/s3cmd-v2"},
		{"s3cmd read-only put", func(t *testing.T) (string, int) { return c.s3cmd(t, s3cmdRO, "put", f, "s3://data/neg/s3cmd-ro") }, s3cmdPath, "AccessDenied", "neg/s3cmd-ro"},
		{"aws wrong secret ls", func(t *testing.T) (string, int) { return c.aws(t, rwKey, badSecret, "s3", "ls", "s3://data/") }, awsPath, "SignatureDoesNotMatch", ""},
		{"aws wrong secret cp", func(t *testing.T) (string, int) {
			return c.aws(t, rwKey, badSecret, "s3", "cp", "--no-progress", f, "s3://data/neg/aws")
		}, awsPath, "SignatureDoesNotMatch", "neg/aws"},
		{"aws read-only cp", func(t *testing.T) (string, int) {
			return c.aws(t, roKey, roSecret, "s3", "cp", "--no-progress", f, "s3://data/neg/aws-ro")
		}, awsPath, "AccessDenied", "neg/aws-ro"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.tool == s3cmdPath && !haveS3cmd) || (tt.tool == awsPath && !haveAWS) {
				needTool(t, tt.tool)
			}
			e.emu.ResetStats()
			out, code := tt.run(t)
			if code == 0 || !strings.Contains(out, tt.code) {
				t.Errorf("exit %d, want non-zero with %s:\n%s", code, tt.code, out)
			}
			noUpstream(t, e)
			if tt.key != "" {
				if s := objectStatus(t, e, tt.key); s != http.StatusNotFound {
					t.Errorf("HEAD %s: %d, want 404", tt.key, s)
				}
			}
		})
	}
}
