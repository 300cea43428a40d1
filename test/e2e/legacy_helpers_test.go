package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The legacy client programs, by absolute path: the Debian packages, run
// with the system python (never a pyenv or virtualenv one from PATH).
const (
	s3cmdPath  = "/usr/bin/s3cmd"
	awsPath    = "/usr/bin/aws"
	pythonPath = "/usr/bin/python3"

	// requireLegacyEnv set to 1 (CI, after installing the packages) turns
	// a missing tool into a failure instead of a skip.
	requireLegacyEnv = "S3X_REQUIRE_LEGACY_CLIENTS"
)

// needTool skips t (fails it under S3X_REQUIRE_LEGACY_CLIENTS=1) unless the
// program at path exists and, for python, every module imports.
func needTool(t *testing.T, path string, pythonModules ...string) {
	t.Helper()
	why := ""
	if _, err := os.Stat(path); err != nil {
		why = fmt.Sprintf("%s not installed: %v", path, err)
	} else if len(pythonModules) > 0 {
		cmd := exec.Command(path, "-c", "import "+strings.Join(pythonModules, ", "))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "PYTHONNOUSERSITE=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			why = fmt.Sprintf("%s cannot import %v: %v: %s", path, pythonModules, err, out)
		}
	}
	if why == "" {
		return
	}
	if os.Getenv(requireLegacyEnv) == "1" {
		t.Fatalf("%s (and %s=1 forbids skipping)", why, requireLegacyEnv)
	}
	t.Skip(why)
}

// cliEnv runs legacy client programs against one proxy env, hermetically:
// a fresh HOME, empty AWS config files, no IMDS, no proxy variables and
// nothing inherited from the test's own environment.
type cliEnv struct {
	e    *env
	dir  string
	vars []string
}

func newCLIEnv(t *testing.T, e *env) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &cliEnv{e: e, dir: dir}
	awsConfig := c.file(t, "aws-config", []byte("[default]\nregion = "+region+"\ns3 =\n  addressing_style = path\n"))
	awsCreds := c.file(t, "aws-credentials", nil)
	c.vars = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + dir,
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"PYTHONNOUSERSITE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"NO_PROXY=*",
		"no_proxy=*",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE=" + awsCreds,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	}
	return c
}

// hostPort is the proxy's 127.0.0.1:port.
func (c *cliEnv) hostPort() string { return strings.TrimPrefix(c.e.srv.URL, "http://") }

// file writes data to name in the env's directory and returns its path.
func (c *cliEnv) file(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// read returns the contents of a file in the env's directory.
func (c *cliEnv) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run runs a program with the env's variables plus extra and returns its
// combined output and exit status. Starting failures and the timeout fail t.
func (c *cliEnv) run(t *testing.T, extra []string, stdin string, prog string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(append([]string(nil), c.vars...), extra...)
	cmd.Dir = c.dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out: %s", prog, strings.Join(args, " "), out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v", prog, strings.Join(args, " "), err)
		return "", -1
	}
}

// rcloneVars is the environment that configures an rclone remote named
// s3x for the proxy (rwKey, path-style, provider Other), with its own
// empty config file conf, followed by extra settings.
func (c *cliEnv) rcloneVars(t *testing.T, conf string, extra ...string) []string {
	t.Helper()
	return append([]string{
		"RCLONE_CONFIG=" + c.file(t, conf, nil),
		"RCLONE_CONFIG_S3X_TYPE=s3",
		"RCLONE_CONFIG_S3X_PROVIDER=Other",
		"RCLONE_CONFIG_S3X_ENV_AUTH=false",
		"RCLONE_CONFIG_S3X_ACCESS_KEY_ID=" + rwKey,
		"RCLONE_CONFIG_S3X_SECRET_ACCESS_KEY=" + rwSecret,
		"RCLONE_CONFIG_S3X_ENDPOINT=" + c.e.srv.URL,
		"RCLONE_CONFIG_S3X_REGION=" + region,
		"RCLONE_CONFIG_S3X_FORCE_PATH_STYLE=true",
	}, extra...)
}

// s3cmdConfig writes an s3cmd config file for the proxy: path-style (no
// %(bucket)s in host_bucket), plain HTTP, SigV4 unless sigV2, and
// storageClass as storage_class ("" keeps s3cmd's default, STANDARD).
func (c *cliEnv) s3cmdConfig(t *testing.T, name, key, secret string, sigV2 bool, storageClass string) string {
	t.Helper()
	cfg := fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
use_https = False
check_ssl_certificate = False
check_ssl_hostname = False
bucket_location = %s
signature_v2 = %s
storage_class = %s
proxy_host =
socket_timeout = 30
progress_meter = False
`, key, secret, c.hostPort(), c.hostPort(), region, pyBool(sigV2), storageClass)
	return c.file(t, name, []byte(cfg))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// s3cmd runs /usr/bin/s3cmd with config cfg.
func (c *cliEnv) s3cmd(t *testing.T, cfg string, args ...string) (string, int) {
	t.Helper()
	return c.run(t, nil, "", s3cmdPath, append([]string{"-c", cfg, "--no-progress"}, args...)...)
}

// aws runs /usr/bin/aws against the proxy with the given local key.
func (c *cliEnv) aws(t *testing.T, key, secret string, args ...string) (string, int) {
	t.Helper()
	creds := []string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret}
	return c.run(t, creds, "", awsPath, append([]string{"--endpoint-url", c.e.srv.URL, "--no-cli-pager"}, args...)...)
}

// mustOK fails t unless the program exited 0.
func mustOK(t *testing.T, what, out string, code int) string {
	t.Helper()
	if code != 0 {
		t.Fatalf("%s: exit %d:\n%s", what, code, out)
	}
	return out
}

// objectStatus is the status of a HEAD of key through the proxy with the
// read-write key (200 present, 404 absent).
func objectStatus(t *testing.T, e *env, key string) int {
	t.Helper()
	req := signedRequest(t, http.MethodHead, e.url("/"+aliasData+"/"+key), rwKey, rwSecret, nil, time.Now(), nil)
	status, _, _ := do(t, req)
	return status
}

// sessionSigned checks that each operation reached the emulator at least
// once, always signed with session credentials, never with IAM ones.
func sessionSigned(t *testing.T, e *env, ops ...string) {
	t.Helper()
	st := e.emu.Stats()
	for _, op := range ops {
		if st.SessionRequests[op] < 1 || st.IAMRequests[op] != 0 || st.SessionRequests[op] != st.Requests[op] {
			t.Errorf("%s upstream: %d requests, %d session-signed, %d IAM-signed; want all session-signed",
				op, st.Requests[op], st.SessionRequests[op], st.IAMRequests[op])
		}
	}
}

// noUpstream checks that nothing reached the emulator since its last reset.
func noUpstream(t *testing.T, e *env) {
	t.Helper()
	st := e.emu.Stats()
	if n := total(st.Requests) + total(st.Rejections) + total(st.CreateSessions); n != 0 {
		t.Errorf("%d upstream requests, want none: %+v", n, st)
	}
}

// toolPresent reports whether the program at path exists.
func toolPresent(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
