package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// Demo names of `s3xproxy dev`.
const (
	devBucket = "demo--usw2-az1--x-s3"
	devAlias  = "demo"
	devRegion = "us-west-2"
	// devZone is buckets.default_zone in dev: any other bucket name means
	// <name>--usw2-az1--x-s3, and the demo key may create buckets there.
	devZone = "usw2-az1"
)

// devEnv is a running `s3xproxy dev`: the emulator, the proxy and the demo
// keys (fresh random ones each run).
type devEnv struct {
	Endpoint              string // http://host:port of the proxy
	IAMKey, IAMSecret     string // upstream (emulator) IAM credentials
	LocalKey, LocalSecret string // the demo client credentials
	Bucket, Alias         string

	emu   *emulator.Emulator
	prx   *proxy.Proxy
	srv   *http.Server
	ln    net.Listener
	serve chan error
}

// startDev starts the emulator on a random loopback port and the proxy on
// listen, wired to it, and returns once both accept connections.
func startDev(listen string, logOut io.Writer) (*devEnv, error) {
	env := &devEnv{
		IAMKey: "AKIA" + randomString(16, upperAlnum), IAMSecret: randomString(40, secretChars),
		LocalKey: "DEMO" + randomString(16, upperAlnum), LocalSecret: randomString(40, secretChars),
		Bucket: devBucket, Alias: devAlias, serve: make(chan error, 1),
	}
	emu, err := emulator.New(emulator.Options{
		Credentials: map[string]string{env.IAMKey: env.IAMSecret},
		Buckets:     []string{devBucket},
	})
	if err != nil {
		return nil, fmt.Errorf("dev: emulator: %w", err)
	}
	if err := emu.Listen("127.0.0.1:0", ""); err != nil {
		return nil, fmt.Errorf("dev: emulator: %w", err)
	}
	env.emu = emu
	logger := zerolog.New(zerolog.ConsoleWriter{Out: logOut, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	p, err := proxy.New(devProxyOptions(env, logger))
	if err != nil {
		_ = emu.Close()
		return nil, fmt.Errorf("dev: %w", err)
	}
	env.prx = p
	if env.ln, err = net.Listen("tcp", listen); err != nil {
		env.Close()
		return nil, fmt.Errorf("dev: listen %s: %w", listen, err)
	}
	env.Endpoint = "http://" + env.ln.Addr().String()
	env.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { env.serve <- env.srv.Serve(env.ln) }()
	return env, nil
}

// devProxyOptions wires the proxy to the emulator: plain HTTP, every
// upstream connection dialled to the emulator with the Zonal Host kept.
func devProxyOptions(env *devEnv, logger zerolog.Logger) proxy.Options {
	tr := proxy.DefaultTransport()
	emuAddr := env.emu.Addr()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, emuAddr)
	}
	return proxy.Options{
		VirtualHostDomains:  []string{"localhost"},
		Region:              devRegion,
		Scheme:              "http",
		Transport:           tr,
		UpstreamCredentials: credentials.NewStaticCredentialsProvider(env.IAMKey, env.IAMSecret, ""),
		Aliases:             []proxy.Alias{{Name: devAlias, Target: devBucket}},
		Credentials: []proxy.Credential{{
			AccessKeyID: env.LocalKey, SecretAccessKey: env.LocalSecret,
			Buckets: []string{"*"}, Access: proxy.AccessReadWrite, CreateBuckets: true,
		}},
		DefaultZone: devZone,
		SigV2:       true,
		Logger:      logger,
		AccessLog:   true,
	}
}

// Close stops the proxy and the emulator.
func (env *devEnv) Close() {
	if env.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = env.srv.Shutdown(ctx)
		cancel()
	}
	if env.prx != nil {
		_ = env.prx.Close()
	}
	if env.emu != nil {
		_ = env.emu.Close()
	}
}

// devObject is what the printed curl PUT stores.
const devObject = "hello from s3xproxy"

// curlCommands are the printed curl commands: PUT then GET of hello.txt.
// S3 requires x-amz-content-sha256 with SigV4, which curl before 8.x does
// not send by itself; the payload hash is given explicitly so every curl
// with --aws-sigv4 (7.75+) signs the same thing.
func (env *devEnv) curlCommands() []string {
	auth := fmt.Sprintf(`curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "%s:%s"`, env.LocalKey, env.LocalSecret)
	url := env.Endpoint + "/" + env.Alias + "/hello.txt"
	return []string{
		fmt.Sprintf(`%s -H "x-amz-content-sha256: %s" -X PUT --data-binary "%s" %s`, auth, sha256Hex(devObject), devObject, url),
		fmt.Sprintf(`%s -H "x-amz-content-sha256: %s" %s`, auth, sha256Hex(""), url),
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// recipe is one client's commands in the banner: shell lines that work
// when pasted, in order, into one POSIX shell in an empty directory
// (TestDevRecipes runs them).
type recipe struct {
	Title string
	Tool  string // the program the lines run
	Lines []string
}

// recipes are the banner's commands for curl, the aws CLI, s3cmd and
// rclone, each uploading a file and listing or fetching it.
func (env *devEnv) recipes() []recipe {
	host := strings.TrimPrefix(env.Endpoint, "http://")
	s3cmd := fmt.Sprintf("s3cmd -c /dev/null --access_key=%s --secret_key=%s --host=%s --host-bucket=%s --no-ssl --region=us-east-1",
		env.LocalKey, env.LocalSecret, host, host)
	return []recipe{
		{Title: "curl", Tool: "curl", Lines: env.curlCommands()},
		{Title: "aws CLI", Tool: "aws", Lines: []string{
			fmt.Sprintf("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=us-east-1", env.LocalKey, env.LocalSecret),
			fmt.Sprintf("echo hi > hi.txt && aws --endpoint-url %s s3 cp hi.txt s3://%s/hi.txt", env.Endpoint, env.Alias),
			fmt.Sprintf("aws --endpoint-url %s s3 ls s3://%s/", env.Endpoint, env.Alias),
			fmt.Sprintf("aws --endpoint-url %s s3 mb s3://aws-bucket && aws --endpoint-url %s s3 cp hi.txt s3://aws-bucket/hi.txt",
				env.Endpoint, env.Endpoint),
			fmt.Sprintf("aws --endpoint-url %s s3 rm s3://aws-bucket/hi.txt && aws --endpoint-url %s s3 rb s3://aws-bucket",
				env.Endpoint, env.Endpoint),
		}},
		// -c /dev/null: no ~/.s3cfg needed; --host-bucket without
		// %(bucket)s makes s3cmd use path-style URLs.
		{Title: "s3cmd", Tool: "s3cmd", Lines: []string{
			fmt.Sprintf("echo hi > hi.txt && %s put hi.txt s3://%s/hi-s3cmd.txt", s3cmd, env.Alias),
			fmt.Sprintf("%s ls s3://%s/", s3cmd, env.Alias),
			fmt.Sprintf("%s mb s3://s3cmd-bucket && %s put hi.txt s3://s3cmd-bucket/hi.txt", s3cmd, s3cmd),
			fmt.Sprintf("%s del s3://s3cmd-bucket/hi.txt && %s rb s3://s3cmd-bucket", s3cmd, s3cmd),
		}},
		// no_check_bucket: rclone would otherwise send CreateBucket before
		// every upload; dev's default_zone answers it, but a configuration
		// without one (or a key without create_buckets) refuses it.
		{Title: "rclone", Tool: "rclone", Lines: []string{
			fmt.Sprintf("export RCLONE_CONFIG_S3X_TYPE=s3 RCLONE_CONFIG_S3X_PROVIDER=Other RCLONE_CONFIG_S3X_ENDPOINT=%s "+
				"RCLONE_CONFIG_S3X_ACCESS_KEY_ID=%s RCLONE_CONFIG_S3X_SECRET_ACCESS_KEY=%s "+
				"RCLONE_CONFIG_S3X_FORCE_PATH_STYLE=true RCLONE_CONFIG_S3X_NO_CHECK_BUCKET=true",
				env.Endpoint, env.LocalKey, env.LocalSecret),
			fmt.Sprintf("echo hi > hi.txt && rclone copyto hi.txt s3x:%s/hi-rclone.txt", env.Alias),
			fmt.Sprintf("rclone ls s3x:%s", env.Alias),
		}},
	}
}

var devBanner = template.Must(template.New("banner").Parse(`
s3xproxy dev: proxy {{.Env.Endpoint}} -> in-process S3 Express emulator
  bucket  {{.Env.Bucket}}  (alias "{{.Env.Alias}}")
  default zone {{.Zone}}: any other name NAME means NAME--{{.Zone}}--x-s3; mb / rb create and remove it
  client credentials (local):  {{.Env.LocalKey}} / {{.Env.LocalSecret}}
  upstream IAM credentials (emulator only): {{.Env.IAMKey}} / {{.Env.IAMSecret}}
{{range .Recipes}}
{{.Title}}:
{{- range .Lines}}
  {{.}}
{{- end}}
{{end}}
Go (aws-sdk-go-v2):
  cfg, _ := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
      config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("{{.Env.LocalKey}}", "{{.Env.LocalSecret}}", "")))
  client := s3.NewFromConfig(cfg, func(o *s3.Options) {
      o.BaseEndpoint = aws.String("{{.Env.Endpoint}}")
      o.UsePathStyle = true
  })
  out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("{{.Env.Alias}}"), Key: aws.String("hello.txt")})

Ctrl-C stops both.
`))

func (env *devEnv) printBanner(w io.Writer) error {
	return devBanner.Execute(w, struct {
		Env     *devEnv
		Recipes []recipe
		Zone    string
	}{env, env.recipes(), devZone})
}

func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "proxy listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env, err := startDev(*listen, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "s3xproxy", err)
		return 1
	}
	defer env.Close()
	if err := env.printBanner(stdout); err != nil {
		fmt.Fprintln(stderr, "s3xproxy dev:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		return 0
	case err := <-env.serve:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "s3xproxy dev:", err)
			return 1
		}
		return 0
	}
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString returns n characters of alphabet from crypto/rand.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return s.String()
}
