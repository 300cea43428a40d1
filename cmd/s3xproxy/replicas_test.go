package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Session keys of the replicas test (base64 of 32 bytes each).
const (
	replicaKeyOld = "b2xkLXNlc3Npb24ta2V5LW9mLXRoZS1yZXBsaWNhcy10ZXN0IQ=="
	replicaKeyNew = "bmV3LXNlc3Npb24ta2V5LW9mLXRoZS1yZXBsaWNhcy10ZXN0IQ=="
	replicaKey    = "REPLICAKEY1"
	replicaSecret = "replica-local-secret-1"
)

// replicaConfig is the one config of both replicas, listening on port and
// sealing local sessions with keys.
func replicaConfig(upstream string, port int, keys ...string) string {
	return fmt.Sprintf(`server: {listen: "127.0.0.1:%d", shutdown_grace: 5s}
admin: {listen: ""}
log: {level: info, format: json, access_log: false}
upstream:
  region: us-west-2
  scheme: http
  dial_address: %s
  credentials: {access_key_id: %s, secret_access_key: %s}
auth:
  local_sessions: {keys: [%s]}
  credentials:
    - {access_key_id: %s, secret_access_key: %s, buckets: ["*"], access: read-write}
`, port, upstream, gwKeyID, gwSecret, strings.Join(keys, ", "), replicaKey, replicaSecret)
}

// replica is one `s3xproxy serve` process, restartable on its port.
type replica struct {
	t      *testing.T
	bin    string
	port   int
	config string
	cmd    *exec.Cmd
	done   chan struct{}
	log    *syncBuffer
}

func (r *replica) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// start runs the binary and waits until it accepts connections.
func (r *replica) start() {
	r.t.Helper()
	r.log = &syncBuffer{}
	r.cmd = exec.Command(r.bin, "serve", "--config", r.config)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-r.done:
			r.t.Fatalf("replica %s exited: %s", r.addr(), r.log)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("replica %s not listening: %s", r.addr(), r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the drain to finish.
func (r *replica) stop() {
	r.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		r.t.Fatalf("replica %s did not stop: %s", r.addr(), r.log)
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		r.t.Fatalf("replica %s exited %d: %s", r.addr(), code, r.log)
	}
}

// balancer dials the replicas in turn, like a load balancer with one
// connection per request; a replica taken out of rotation (draining, as
// a failing readiness probe does) is skipped.
type balancer struct {
	addrs  []string
	out    []atomic.Bool  // out of rotation
	served []atomic.Int64 // connections per replica
	next   atomic.Uint64
}

func newBalancer(addrs ...string) *balancer {
	return &balancer{addrs: addrs, out: make([]atomic.Bool, len(addrs)), served: make([]atomic.Int64, len(addrs))}
}

func (b *balancer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	for range len(b.addrs) {
		i := int(b.next.Add(1) % uint64(len(b.addrs)))
		if b.out[i].Load() {
			continue
		}
		c, err := d.DialContext(ctx, network, b.addrs[i])
		if err == nil {
			b.served[i].Add(1)
		}
		return c, err
	}
	return nil, errors.New("balancer: no replica in rotation")
}

// countingTransport counts the CreateSession calls a client makes.
type countingTransport struct {
	next     http.RoundTripper
	sessions atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Has("session") {
		c.sessions.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestReplicasShareLocalSessions: two `s3xproxy serve` processes with one
// config; aws-sdk-go-v2 in native S3 Express mode behind a balancer that
// alternates between them. Its one local session works on both, across a
// restart of one replica mid-run, and across a rolling restart of both
// with the keys rotated to [new, old]: 0 errors, one CreateSession.
func TestReplicasShareLocalSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two processes")
	}
	bin := filepath.Join(t.TempDir(), "s3xproxy")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, emu, _ := startEmulator(t, "memory")
	upstream := strings.TrimPrefix(emu.URL, "http://")
	dir := t.TempDir()
	var reps []*replica
	for i := range 2 {
		ln := listenLoopback(t)
		port := portOf(t, ln)
		ln.Close()
		r := &replica{t: t, bin: bin, port: port, config: filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))}
		writeConfig(t, r.config, replicaConfig(upstream, port, replicaKeyOld))
		r.start()
		t.Cleanup(func() {
			if r.cmd.ProcessState == nil {
				_ = r.cmd.Process.Kill()
				<-r.done
			}
		})
		reps = append(reps, r)
	}
	lb := newBalancer(reps[0].addr(), reps[1].addr())
	client := &countingTransport{next: &http.Transport{DialContext: lb.DialContext, DisableKeepAlives: true}}
	sdk := s3.New(s3.Options{
		Region:           "us-west-2",
		BaseEndpoint:     aws.String("http://" + reps[0].addr()), // an IP endpoint: path-style
		Credentials:      awscreds.NewStaticCredentialsProvider(replicaKey, replicaSecret, ""),
		HTTPClient:       &http.Client{Transport: client},
		RetryMaxAttempts: 1, // every failure counts
	})
	w := &workload{t: t, sdk: sdk}

	w.run(60) // 300 operations
	if lb.served[0].Load() == 0 || lb.served[1].Load() == 0 {
		t.Fatalf("balancer served %d / %d: not alternating", lb.served[0].Load(), lb.served[1].Load())
	}

	// Restart replica 0 mid-run.
	restart := func(i int) {
		// Out of rotation first, then a pause for connections already
		// dialled to reach the server (a preStop delay): a connection
		// still in the listen queue when the listener closes is reset,
		// whatever the proxy does.
		lb.out[i].Store(true)
		time.Sleep(100 * time.Millisecond)
		reps[i].stop()
		reps[i].start()
		lb.out[i].Store(false)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				w.run(1)
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	restart(0)
	before := lb.served[0].Load()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	w.run(20)
	if lb.served[0].Load() == before {
		t.Fatal("the restarted replica served nothing")
	}

	// Rolling restart with the keys rotated: the new key seals, the old
	// one still opens the session the SDK holds.
	for i, r := range reps {
		writeConfig(t, r.config, replicaConfig(upstream, r.port, replicaKeyNew, replicaKeyOld))
		restart(i)
	}
	w.run(40)

	if w.errs.Load() != 0 {
		t.Fatalf("%d of %d operations failed; first: %v", w.errs.Load(), w.ops.Load(), w.firstErr())
	}
	if n := client.sessions.Load(); n != 1 {
		t.Fatalf("the SDK called CreateSession %d times, want 1: its session must outlive restarts and rotation", n)
	}
	t.Logf("%d operations, 0 errors; connections per replica %d / %d", w.ops.Load(), lb.served[0].Load(), lb.served[1].Load())
}

// workload is a sequence of mixed operations on the gateway bucket.
type workload struct {
	t    *testing.T
	sdk  *s3.Client
	n    int
	ops  atomic.Int64
	errs atomic.Int64
	mu   sync.Mutex
	err  error // the first failure
}

func (w *workload) fail(op string, err error) {
	w.errs.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = fmt.Errorf("%s: %w", op, err)
	}
}

func (w *workload) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// run does rounds of put, get, head, list and delete (the previous
// round's object): 5 operations each.
func (w *workload) run(rounds int) {
	ctx := context.Background()
	bucket := aws.String(gwBucket)
	for range rounds {
		w.n++
		key := fmt.Sprintf("replicas/%d", w.n)
		body := []byte(strings.Repeat(key, 50))
		w.ops.Add(5)
		if _, err := w.sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			w.fail("put", err)
			continue
		}
		if out, err := w.sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: &key}); err != nil {
			w.fail("get", err)
		} else {
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				w.fail("get", fmt.Errorf("%d bytes, %v", len(got), err))
			}
		}
		if _, err := w.sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: &key}); err != nil {
			w.fail("head", err)
		}
		if _, err := w.sdk.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("replicas/")}); err != nil {
			w.fail("list", err)
		}
		prev := fmt.Sprintf("replicas/%d", w.n-1)
		if _, err := w.sdk.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: &prev}); err != nil {
			w.fail("delete", err)
		}
	}
}
