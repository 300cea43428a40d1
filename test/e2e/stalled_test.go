package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/gateway"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// Stalled-upload soak parameters. Each client declares stalledDeclared
// bytes, sends stalledSent, keeps the connection barely alive with a byte
// every trickle until every client has sent its bulk, then stalls.
const (
	stalledClients  = 500
	stalledDeclared = 8 << 20
	stalledSent     = 512 << 10
	stalledIdle     = 2 * time.Second // not less: -race on 2 busy cores can starve a client that long
	stalledTrickle  = stalledIdle / 5
	// stalledPerUpload bounds the heap one stalled upload costs the test
	// process (client, gateway, proxy and emulator together, replay buffer
	// aside): ~190 KiB measured, mostly the upstream connection's two
	// 32 KiB buffers and both servers' connection buffers. The heap over
	// the baseline must stay under stalledClients*stalledPerUpload plus the
	// replay budget. The old code kept every client's bulk in a replay
	// buffer of its own: 250 MiB more for these parameters.
	stalledPerUpload = 256 << 10
)

// TestStalledUploadsStayBounded: 500 signed uploads that send part of a
// declared 8 MiB body and stall, through the gateway (connection and
// in-flight caps above 500) and the proxy with its default replay budget
// and a 2 s body idle timeout. While they stall, the heap stays under
// stalledHeapBound and the replay budget under its limit, and ordinary
// SDK traffic works. After the idle timeout every stalled client gets 400
// RequestTimeout, the emulator holds none of their objects, the budget is
// back to 0 and the goroutines are back to the baseline.
func TestStalledUploadsStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: 500 connections")
	}
	budget := proxy.NewReplayBudget(proxy.DefaultReplayBudget)
	e := newEnv(t, envConfig{
		emu: emulator.Options{Storage: "discard"},
		proxy: func(o *proxy.Options) {
			o.ReplayBudget = budget
			o.BodyIdleTimeout = stalledIdle
			o.Logger = zerolog.Nop() // 500 access-log lines would only cost memory
		},
	})
	addr := startGatewayFor(t, e.proxy, gateway.Options{MaxConnections: 2 * stalledClients, MaxInFlight: 2 * stalledClients})
	sdk := newSDKClient("http://"+addr, rwKey, rwSecret)
	sdk.put(t, aliasData, "warm", []byte("warm"))
	closeIdle(sdk)
	baseGoroutines, baseHeap := settle()

	stall := make(chan struct{})
	var stallOnce sync.Once
	stallAll := func() { stallOnce.Do(func() { close(stall) }) }
	defer stallAll() // a failure before the stall must not leave the clients trickling
	var sent, done sync.WaitGroup
	results := make([]stalledResult, stalledClients)
	sent.Add(stalledClients)
	done.Add(stalledClients)
	for i := range stalledClients {
		go func() {
			defer done.Done()
			results[i] = stalledUpload(t, addr, fmt.Sprintf("stalled/%03d", i), &sent, stall)
		}()
	}
	sent.Wait()

	heap, goroutines := int64(heapInUse())-int64(baseHeap), runtime.NumGoroutine()
	t.Logf("all %d clients stalled: heap +%d MiB over baseline, %d goroutines (baseline %d), replay budget %d/%d MiB, %d denied",
		stalledClients, heap>>20, goroutines, baseGoroutines, budget.InUse()>>20, budget.Limit()>>20, budget.Denied())
	if bound := stalledClients*stalledPerUpload + budget.Limit(); heap > bound {
		t.Errorf("heap +%d MiB while stalled, want under %d MiB", heap>>20, bound>>20)
	}
	if budget.InUse() > budget.Limit() {
		t.Errorf("replay budget in use %d over its limit %d", budget.InUse(), budget.Limit())
	}
	body := bytes.Repeat([]byte("ordinary traffic "), 1000)
	for i := range 3 {
		key := fmt.Sprintf("ordinary/%d", i)
		sdk.put(t, aliasData, key, body)
		// The emulator discards bodies (it would otherwise buffer 500 of
		// them) and reads back a pattern: only the length can be checked.
		if got := sdk.get(t, aliasData, key); len(got) != len(body) {
			t.Fatalf("ordinary GET %s while stalled: %d bytes, want %d", key, len(got), len(body))
		}
	}

	start := time.Now()
	stallAll()
	done.Wait()
	t.Logf("stalled clients answered within %v of the stall", time.Since(start).Round(time.Millisecond))
	codes := map[string]int{}
	for _, r := range results {
		codes[fmt.Sprintf("%d %s", r.status, r.code)]++
	}
	if codes["400 RequestTimeout"] != stalledClients {
		t.Errorf("stalled clients got %v, want all %d 400 RequestTimeout", codes, stalledClients)
	}
	if keys := sdk.list(t, aliasData, "stalled/"); len(keys) != 0 {
		t.Errorf("the emulator committed %d stalled uploads (%v...)", len(keys), keys[0])
	}
	closeIdle(sdk)
	waitUntil(t, 5*time.Second, func() bool { return budget.InUse() == 0 }, "the replay budget to be released")
	waitUntil(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= baseGoroutines+5 },
		fmt.Sprintf("goroutines back to the baseline %d", baseGoroutines))
	// Two collections: pooled replay segments survive the first one.
	waitUntil(t, 5*time.Second, func() bool { heapInUse(); return heapInUse() < baseHeap+16<<20 },
		fmt.Sprintf("the heap back within 16 MiB of the baseline %d MiB", baseHeap>>20))
	t.Logf("after the timeout: heap %d MiB (baseline %d), %d goroutines (baseline %d)",
		heapInUse()>>20, baseHeap>>20, runtime.NumGoroutine(), baseGoroutines)
}

type stalledResult struct {
	status int
	code   string
}

// stalledUpload sends a signed PUT of key declaring stalledDeclared bytes
// (UNSIGNED-PAYLOAD), sends stalledSent of them, marks sent, trickles a
// byte every stalledTrickle until stall closes, then waits for the answer.
func stalledUpload(t *testing.T, addr, key string, sent *sync.WaitGroup, stall <-chan struct{}) stalledResult {
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			sent.Done()
		}
	}
	defer signal()
	req, err := http.NewRequest("PUT", "http://"+addr+"/"+aliasData+"/"+key, nil)
	if err != nil {
		t.Error(err)
		return stalledResult{}
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req = signedRequestFrom(t, req, rwKey, rwSecret, nil, time.Now())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return stalledResult{}
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), addr, stalledDeclared)
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		fmt.Fprintf(&head, "%s: %s\r\n", k, req.Header.Get(k))
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Errorf("%s: %v", key, err)
		return stalledResult{}
	}
	if _, err := conn.Write(bytes.Repeat([]byte{'s'}, stalledSent)); err != nil {
		t.Errorf("%s: sending the bulk: %v", key, err)
		return stalledResult{}
	}
	signal()
	tick := time.NewTicker(stalledTrickle)
	defer tick.Stop()
trickle:
	for {
		select {
		case <-stall:
			break trickle
		case <-tick.C:
			if _, err := conn.Write([]byte{'s'}); err != nil {
				break trickle // answered early: read it below
			}
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("%s: reading the answer: %v", key, err)
		return stalledResult{}
	}
	b, _ := io.ReadAll(resp.Body)
	return stalledResult{status: resp.StatusCode, code: xmlField(b, "Code")}
}

// xmlField returns the text of the first <name> element of b.
func xmlField(b []byte, name string) string {
	_, rest, ok := bytes.Cut(b, []byte("<"+name+">"))
	if !ok {
		return ""
	}
	v, _, _ := bytes.Cut(rest, []byte("</"+name+">"))
	return string(v)
}

// startGatewayFor serves h through a gateway.Server on a loopback port
// (no admin listener) and returns its address.
func startGatewayFor(t *testing.T, h http.Handler, opts gateway.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Handler = h
	opts.Listeners.Plain = ln
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// closeIdle closes the SDK client's idle keep-alive connections, whose
// server-side goroutines would otherwise count against the baseline.
func closeIdle(c *sdkClient) {
	if hc, ok := c.c.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		hc.CloseIdleConnections()
	}
}

// settle lets goroutines of finished work exit and returns the goroutine
// count and heap in use.
func settle() (int, uint64) {
	time.Sleep(100 * time.Millisecond)
	return runtime.NumGoroutine(), heapInUse()
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func waitUntil(t *testing.T, within time.Duration, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
