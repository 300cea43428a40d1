package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func startTestDev(t *testing.T) (*devEnv, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	env, err := startDev("127.0.0.1:0", logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env, logs
}

// TestDevRequests sends what the printed curl commands send (SigV4 header
// auth, region us-east-1, service s3, the payload hash declared) and gets
// the object back byte for byte.
func TestDevRequests(t *testing.T) {
	env, _ := startTestDev(t)
	body := []byte(devObject)
	url := env.Endpoint + "/" + env.Alias + "/hello.txt"
	send := func(method string, payload []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(payload)
		hash := hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", hash)
		err = v4.NewSigner().SignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: env.LocalKey, SecretAccessKey: env.LocalSecret}, req, hash, "s3", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, b := send("PUT", body); status != 200 {
		t.Fatalf("PUT: %d %s", status, b)
	}
	if status, b := send("GET", nil); status != 200 || !bytes.Equal(b, body) {
		t.Fatalf("GET: %d %q, want 200 %q", status, b, body)
	}
}

// TestDevBanner checks the printed keys and commands.
func TestDevBanner(t *testing.T) {
	env, _ := startTestDev(t)
	var out bytes.Buffer
	if err := env.printBanner(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{env.Endpoint, env.LocalKey, env.LocalSecret, "curl --aws-sigv4", "aws --endpoint-url", "s3cmd -c /dev/null", "rclone copyto", "s3.NewFromConfig", "UsePathStyle"} {
		if !strings.Contains(s, want) {
			t.Errorf("banner lacks %q:\n%s", want, s)
		}
	}
}

// TestDevRecipes runs every printed recipe for real, as a user pasting it
// would: its lines in one POSIX shell, in an empty directory, with a clean
// environment (no AWS or rclone configuration). A recipe whose program is
// not installed is skipped, or fails under S3X_REQUIRE_LEGACY_CLIENTS=1
// (CI). Each must exit 0, and what it uploaded must be in the bucket.
func TestDevRecipes(t *testing.T) {
	env, logs := startTestDev(t)
	recipes := env.recipes()
	want := map[string]struct {
		key, body, listed string // object written, its content, a line its listing prints
	}{
		"curl":    {"hello.txt", devObject, devObject},
		"aws CLI": {"hi.txt", "hi\n", "hi.txt"},
		"s3cmd":   {"hi-s3cmd.txt", "hi\n", "s3://demo/hi-s3cmd.txt"},
		"rclone":  {"hi-rclone.txt", "hi\n", "hi-rclone.txt"},
	}
	// The default zone's bucket lifecycle: mb then rb.
	bucketLines := map[string][]string{
		"aws CLI": {"make_bucket: aws-bucket", "remove_bucket: aws-bucket"},
		"s3cmd":   {"Bucket 's3://s3cmd-bucket/' created", "Bucket 's3://s3cmd-bucket/' removed"},
	}
	if len(recipes) != len(want) {
		t.Errorf("%d recipes, want %d (curl, aws CLI, s3cmd, rclone)", len(recipes), len(want))
	}
	for _, r := range recipes {
		t.Run(r.Title, func(t *testing.T) {
			w, ok := want[r.Title]
			if !ok {
				t.Fatalf("unexpected recipe %q", r.Title)
			}
			path, err := exec.LookPath(r.Tool)
			if err != nil {
				if os.Getenv("S3X_REQUIRE_LEGACY_CLIENTS") == "1" {
					t.Fatalf("%s not installed (and S3X_REQUIRE_LEGACY_CLIENTS=1 forbids skipping)", r.Tool)
				}
				t.Skipf("%s not installed", r.Tool)
			}
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/bin/sh", "-e", "-c", strings.Join(r.Lines, "\n"))
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + filepath.Dir(path) + ":/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "LANG=C.UTF-8",
				"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "NO_PROXY=*", "no_proxy=*", "PYTHONDONTWRITEBYTECODE=1"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("recipe failed: %v\n%s\n--- output:\n%s\n--- proxy log:\n%s", err, strings.Join(r.Lines, "\n"), out, logs)
			}
			if !strings.Contains(string(out), w.listed) {
				t.Errorf("output lacks %q:\n%s", w.listed, out)
			}
			for _, line := range bucketLines[r.Title] {
				if !strings.Contains(string(out), line) {
					t.Errorf("output lacks %q:\n%s", line, out)
				}
			}
			if got := devGet(t, env, w.key); got != w.body {
				t.Errorf("%s holds %q, want %q", w.key, got, w.body)
			}
		})
	}
}

// devGet fetches key from the demo bucket through the proxy.
func devGet(t *testing.T, env *devEnv, key string) string {
	t.Helper()
	req, err := http.NewRequest("GET", env.Endpoint+"/"+env.Alias+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex(""))
	err = v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: env.LocalKey, SecretAccessKey: env.LocalSecret}, req, sha256Hex(""), "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", key, resp.StatusCode, b)
	}
	return string(b)
}
