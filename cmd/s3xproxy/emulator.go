package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runEmulator runs the S3 Express endpoint emulator until SIGINT/SIGTERM.
func runEmulator(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return runEmulatorUntil(args, stdout, stderr, sigs)
}

// runEmulatorUntil is runEmulator stopping when stop receives.
func runEmulatorUntil(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "S3 endpoint listen address")
	adminListen := fs.String("admin-listen", "127.0.0.1:9001", "admin API listen address (empty: none)")
	var creds, buckets listFlag
	fs.Var(&creds, "credentials", "IAM principal AKID:SECRET (repeatable)")
	fs.Var(&buckets, "bucket", "pre-created bucket (repeatable; --x-s3 names are directory buckets)")
	ttl := fs.Duration("session-ttl", 5*time.Minute, "CreateSession lifetime")
	storage := fs.String("storage", "memory", "object storage: memory, disk or discard")
	dataDir := fs.String("data-dir", "", "directory for --storage disk")
	caPath := fs.String("tls-self-signed", "", "serve TLS with a generated CA and write its PEM to this path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3xproxy emulator: unexpected arguments %q\n", fs.Args())
		return 2
	}
	opts := emulator.Options{Credentials: map[string]string{}, Buckets: buckets, SessionTTL: *ttl,
		Storage: *storage, DataDir: *dataDir, TLS: *caPath != ""}
	for _, c := range creds {
		akid, secret, ok := strings.Cut(c, ":")
		if !ok || akid == "" || secret == "" {
			fmt.Fprintln(stderr, "s3xproxy emulator: --credentials wants AKID:SECRET")
			return 2
		}
		opts.Credentials[akid] = secret
	}
	e, err := emulator.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "s3xproxy emulator: %v\n", err)
		return 1
	}
	if *caPath != "" {
		if err := os.WriteFile(*caPath, e.CACertPEM(), 0o644); err != nil {
			fmt.Fprintf(stderr, "s3xproxy emulator: write CA: %v\n", err)
			return 1
		}
	}
	if err := e.Listen(*listen, *adminListen); err != nil {
		fmt.Fprintf(stderr, "s3xproxy emulator: %v\n", err)
		_ = e.Close()
		return 1
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "emulator listening on %s://%s\n", scheme, e.Addr())
	if a := e.AdminAddr(); a != "" {
		fmt.Fprintf(stdout, "emulator admin on http://%s\n", a)
	}
	<-stop
	if err := e.Close(); err != nil {
		fmt.Fprintf(stderr, "s3xproxy emulator: close: %v\n", err)
		return 1
	}
	return 0
}
