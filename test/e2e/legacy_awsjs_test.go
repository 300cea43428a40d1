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

// nodePath is Debian's node; test/e2e/js holds the pinned aws-sdk v2
// (package-lock.json), installed by `.ci/run` with npm ci.
const nodePath = "/usr/bin/node"

// TestLegacyJSv2: aws-sdk for JavaScript v2 (npm aws-sdk@2, path-style,
// SigV4), under the default configuration plus default_zone: putObject
// (Content-MD5 checked against the ETag), getObject, headObject, upload
// in parts, copyObject, listObjects and listObjectsV2 with and without a
// delimiter, getSignedUrl (fetched here), deleteObjects, and createBucket /
// headBucket / deleteBucket.
func TestLegacyJSv2(t *testing.T) {
	needTool(t, nodePath)
	jsDir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	needTool(t, filepath.Join(jsDir, "node_modules", "aws-sdk", "package.json"))
	e := lifecycleEnv(t, nil)
	c := newCLIEnv(t, e)
	vars := []string{"S3X_ENDPOINT=" + e.srv.URL, "AWS_ACCESS_KEY_ID=" + rwKey, "AWS_SECRET_ACCESS_KEY=" + rwSecret,
		"AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1", "NODE_PATH=" + filepath.Join(jsDir, "node_modules")}
	const prefix = "js/"
	out, code := c.run(t, vars, "", nodePath, filepath.Join(jsDir, "s3x.js"), aliasData, prefix, "js-bucket")
	mustOK(t, "aws-sdk v2", out, code)
	var res struct {
		UploadETag       string
		V1, V1d, V2, V2d []string
		Presigned        string
		Deleted          int
		BucketLifecycle  bool
	}
	line := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
	if err := json.Unmarshal(bytes.TrimSpace([]byte(line)), &res); err != nil {
		t.Fatalf("aws-sdk v2 output: %v:\n%s", err, out)
	}
	all := []string{prefix + "big", prefix + "dir/b", prefix + "dir/copy", prefix + "small"}
	top := []string{prefix + "big", prefix + "small", prefix + "dir/"}
	for name, got := range map[string][]string{"listObjects": res.V1, "listObjectsV2": res.V2} {
		if !slices.Equal(got, all) {
			t.Errorf("%s = %v, want %v", name, got, all)
		}
	}
	for name, got := range map[string][]string{"listObjects /": res.V1d, "listObjectsV2 /": res.V2d} {
		if !slices.Equal(got, top) {
			t.Errorf("%s = %v, want %v", name, got, top)
		}
	}
	if !strings.Contains(res.UploadETag, "-") || res.Deleted != 3 || !res.BucketLifecycle {
		t.Errorf("summary %+v", res)
	}
	if got := httpGet(t, res.Presigned, 200); !bytes.Equal(got, payloadJS(70000, 7)) {
		t.Errorf("presigned GET: %d bytes differ", len(got))
	}
	sessionSigned(t, e, "PutObject", "GetObject", "UploadPart", "CompleteMultipartUpload", "ListObjectsV2", "DeleteObjects")
	if _, err := os.Stat(filepath.Join(jsDir, "package-lock.json")); err != nil {
		t.Errorf("test/e2e/js has no package-lock.json: %v", err)
	}
}

// payloadJS is s3x.js's body(n, seed).
func payloadJS(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x >> 24)
	}
	return b
}
