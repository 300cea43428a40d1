package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEmulatorCommand(t *testing.T) {
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	pr, pw := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- runEmulatorUntil([]string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
			"--credentials", "AKID:SECRET", "--bucket", "cli--usw2-az1--x-s3", "--storage", "disk", "--data-dir", dir,
			"--tls-self-signed", caPath}, pw, &stderr, stop)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var s3Addr, adminAddr string
	for adminAddr == "" && sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "emulator listening on https://"); ok {
			s3Addr = a
		}
		if a, ok := strings.CutPrefix(line, "emulator admin on http://"); ok {
			adminAddr = a
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if s3Addr == "" || adminAddr == "" {
		t.Fatalf("no listen addresses printed; stderr %s", stderr.String())
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatalf("CA not written: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA PEM does not parse")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     (&net.Dialer{}).DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "cli--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com"},
	}}
	resp, err := client.Get("https://" + s3Addr + "/?session")
	if err != nil {
		t.Fatalf("TLS request with the written CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request to an IP host = %d, want an S3 error", resp.StatusCode)
	}
	ar, err := http.Get("http://" + adminAddr + "/stats")
	if err != nil || ar.StatusCode != 200 {
		t.Fatalf("admin /stats: %v", err)
	}
	ar.Body.Close()
	stop <- os.Interrupt
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d; stderr %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
}

func TestEmulatorCommandBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--credentials", "nocolon"}, {"--storage", "tape"}, {"extra"}, {"--storage", "disk"}} {
		var out, errb strings.Builder
		stop := make(chan os.Signal, 1)
		stop <- os.Interrupt
		if code := runEmulatorUntil(append([]string{"--listen", "127.0.0.1:0", "--admin-listen", ""}, args...), &out, &errb, stop); code == 0 {
			t.Errorf("%v: exit 0, want failure", args)
		}
	}
}
