package e2e

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestClientsRoundTrip drives each client library through the proxy with
// the alias and with the full --x-s3 name: put, get, head, range get, list,
// copy, multipart (3 parts of 5 MiB), delete — byte-exact — and checks on
// the emulator that data calls were session-signed and copies IAM-signed.
func TestClientsRoundTrip(t *testing.T) {
	e := newEnv(t, envConfig{})
	clients := []struct {
		name string
		c    client
	}{
		{"aws-sdk-go-v2", newSDKClient(e.srv.URL, rwKey, rwSecret)},
		{"minio-go", newMinioClient(t, e.srv.URL, rwKey, rwSecret)},
		{"raw-net-http", &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}},
	}
	for _, cl := range clients {
		for _, bucket := range []string{aliasData, bucketData} {
			t.Run(cl.name+"/"+bucket, func(t *testing.T) {
				exerciseClient(t, e, cl.c, bucket, cl.name+"/")
			})
		}
		t.Run(cl.name+"/multipart", func(t *testing.T) {
			parts := [][]byte{payload(5<<20, 1), payload(5<<20, 2), payload(5<<20, 3), payload(1<<10, 4)}
			key := cl.name + "/big object"
			cl.c.multipart(t, aliasData, key, parts)
			want := bytes.Join(parts, nil)
			if got := cl.c.get(t, bucketData, key); !bytes.Equal(got, want) {
				t.Fatalf("multipart object: got %d bytes, want %d (equal=%v)", len(got), len(want), bytes.Equal(got, want))
			}
			cl.c.del(t, aliasData, key)
		})
	}
	if _, err := newSDKClient(e.srv.URL, roKey, roSecret).c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(aliasData)}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	st := e.emu.Stats()
	if st.IAMRequests["HeadBucket"] != 1 {
		t.Errorf("HeadBucket: IAM-signed %d, want 1 (stats %v)", st.IAMRequests["HeadBucket"], st.Requests)
	}
	for _, op := range []string{"PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObject",
		"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} {
		if st.SessionRequests[op] == 0 {
			t.Errorf("emulator saw no session-signed %s: %v", op, st.SessionRequests)
		}
		if st.IAMRequests[op] != 0 {
			t.Errorf("emulator saw %d IAM-signed %s, want session auth only", st.IAMRequests[op], op)
		}
	}
	if st.IAMRequests["CopyObject"] == 0 || st.SessionRequests["CopyObject"] != 0 {
		t.Errorf("CopyObject: IAM %d, session %d; want IAM-signed only", st.IAMRequests["CopyObject"], st.SessionRequests["CopyObject"])
	}
	if n := total(st.CreateSessions); n != 1 {
		t.Errorf("CreateSession calls = %d (%v), want 1 for one bucket and mode", n, st.CreateSessions)
	}
	for _, rec := range e.recs.all() {
		if rec.Operation == "CreateSession" || rec.AuthType != "sigv4" {
			t.Errorf("a client sent %s with %s auth: the SDK is not in plain path-style SigV4 mode", rec.Operation, rec.AuthType)
		}
	}
	assertNoSecretsLogged(t, e)
}

// exerciseClient runs the single-object operations of one client.
func exerciseClient(t *testing.T, e *env, c client, bucket, prefix string) {
	body := payload(100<<10, 7)
	key := prefix + bucket + "/obj.bin"
	c.put(t, bucket, key, body)
	if got := c.get(t, bucket, key); !bytes.Equal(got, body) {
		t.Fatalf("get: %d bytes differ from the %d put", len(got), len(body))
	}
	if n := c.head(t, bucket, key); n != int64(len(body)) {
		t.Fatalf("head: size %d, want %d", n, len(body))
	}
	if got := c.getRange(t, bucket, key, 1000, 1999); !bytes.Equal(got, body[1000:2000]) {
		t.Fatalf("range get: got %d bytes, want bytes 1000-1999", len(got))
	}
	copied := prefix + bucket + "/copy.bin"
	c.copy(t, bucket, key, copied)
	if got := c.get(t, bucket, copied); !bytes.Equal(got, body) {
		t.Fatalf("copy: %d bytes differ", len(got))
	}
	if got, want := c.list(t, bucket, prefix+bucket+"/"), []string{copied, key}; !slices.Equal(got, want) {
		t.Fatalf("list: %q, want %q", got, want)
	}
	c.del(t, bucket, key)
	c.del(t, bucket, copied)
	if got := c.list(t, bucket, prefix+bucket+"/"); len(got) != 0 {
		t.Fatalf("list after delete: %q", got)
	}
}
