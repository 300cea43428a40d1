package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// quick is how soon a refusal must come: at once, not after a wait.
const quick = time.Second

func waitUntil(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawGet sends a GET on c and reads the answer.
func rawGet(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func checkSlowDown(t *testing.T, resp *http.Response, body string, took time.Duration) {
	t.Helper()
	if resp.StatusCode != 503 || !strings.Contains(body, "<Code>SlowDown</Code>") || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("got %d %v %q, want 503 SlowDown S3 XML with Retry-After and a request id", resp.StatusCode, resp.Header, body)
	}
	if took > quick {
		t.Fatalf("refused after %v, want at once", took)
	}
}

// TestMaxInFlight: a request over the in-flight cap is answered 503
// SlowDown at once; once a request finishes there is room again.
func TestMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	s := startGateway(t, Options{
		MaxInFlight: 2,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				entered <- struct{}{}
				<-release
			}
			io.WriteString(w, "ok")
		}),
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the gateway's shutdown, even after a failure
	plain, _, _ := s.Addrs()
	base := "http://" + plain.String()
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(base + "/block")
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	<-entered
	<-entered
	start := time.Now()
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkSlowDown(t, resp, string(b), time.Since(start))
	unblock()
	for range 2 {
		if st := <-done; st != 200 {
			t.Fatalf("a request within the cap got %d", st)
		}
	}
	if code, _ := get(t, http.DefaultClient, "GET", base+"/other"); code != 200 {
		t.Fatalf("after the others finished: %d, want 200", code)
	}
	if st := s.Limits(); st.InFlight != 0 || st.RejectedRequests != 1 {
		t.Fatalf("limits %+v, want 0 in flight and 1 rejected", st)
	}
}

// TestMaxConnections: a plain connection over the cap gets 503 SlowDown at
// once and is closed, an HTTPS one is closed at once; a closed connection
// makes room.
func TestMaxConnections(t *testing.T) {
	s := startGateway(t, Options{
		MaxConnections: 2,
		TLSMode:        TLSSelfSigned,
		Handler:        http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	})
	plain, tlsAddr, _ := s.Addrs()
	var held []net.Conn
	for range 2 { // two keep-alive connections, served once so both are surely accepted
		c, err := net.Dial("tcp", plain.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp, body := rawGet(t, c); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("a connection within the cap got %d %q", resp.StatusCode, body)
		}
		held = append(held, c)
	}

	start := time.Now()
	over, err := net.Dial("tcp", plain.String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	resp, body := rawGet(t, over)
	checkSlowDown(t, resp, body, time.Since(start))
	if !resp.Close {
		t.Error("the refused connection was not closed")
	}

	start = time.Now()
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr.String(), &tls.Config{InsecureSkipVerify: true})
	if err == nil || time.Since(start) > quick {
		t.Fatalf("HTTPS over the cap: handshake error %v after %v, want a failure at once", err, time.Since(start))
	}

	if resp, body := rawGet(t, held[0]); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("a connection within the cap got %d %q", resp.StatusCode, body)
	}
	held[1].Close()
	waitUntil(t, func() bool { return s.Limits().Connections == 1 }, "the closed connection to be released")
	c, err := net.Dial("tcp", plain.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp, body := rawGet(t, c); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after a connection closed: %d %q, want 200", resp.StatusCode, body)
	}
	if st := s.Limits(); st.RejectedConnections != 2 {
		t.Fatalf("limits %+v, want 2 connections rejected", st)
	}
}
