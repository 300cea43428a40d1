package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os/exec"
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
	for _, want := range []string{env.Endpoint, env.LocalKey, env.LocalSecret, "curl --aws-sigv4", "aws --endpoint-url", "s3.NewFromConfig", "UsePathStyle"} {
		if !strings.Contains(s, want) {
			t.Errorf("banner lacks %q:\n%s", want, s)
		}
	}
}

// TestDevCurlCommands runs the printed curl commands for real.
func TestDevCurlCommands(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	env, logs := startTestDev(t)
	cmds := env.curlCommands()
	for i, c := range cmds {
		out, err := exec.Command("sh", "-c", c+" --silent --show-error --fail-with-body").CombinedOutput()
		if err != nil {
			t.Fatalf("command %d failed: %v\n%s\n%s\nproxy log:\n%s", i, err, c, out, logs)
		}
		if i == len(cmds)-1 && string(out) != devObject {
			t.Fatalf("GET printed %q, want the object", out)
		}
	}
}
