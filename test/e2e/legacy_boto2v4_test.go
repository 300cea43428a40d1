package e2e

import (
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// TestLegacyBoto2SigV4: boto 2.49 with SigV4 (boto config [s3] use-sigv4 =
// True, as its users turn it on for regions without SigV2), path-style,
// under the default configuration: the boto2Script run (put, get,
// multipart, list V1 with and without delimiter, delete, multi delete),
// every request SigV4.
//
// Only path-style: on a port other than 80/443 boto 2's SigV4 handler
// appends the port to a Host that already has it ("b.s3.localhost:P:P",
// boto/auth.py), which no virtual-host parser can read; against S3 or a
// proxy on 443 that does not happen. The path-style Host carries the same
// defect and is verified as sent.
func TestLegacyBoto2SigV4(t *testing.T) {
	needTool(t, pythonPath, "boto")
	// boto 2's SigV4 takes the signing region from the host name, port
	// included ("localhost:P", which no verifier accepts): the script sets
	// it (S3X_SIGV4_REGION), and the proxy is addressed as s3.localhost,
	// as a deployment's s3.<domain>.
	e := lifecycleEnv(t, func(o *proxy.Options) { o.VirtualHostDomains = []string{"s3.localhost"} })
	c := newCLIEnv(t, e)
	script := c.file(t, "boto2_legacy.py", []byte(boto2Script))
	botoCfg := c.file(t, "boto.cfg", []byte("[s3]\nuse-sigv4 = True\n"))
	port := strings.TrimPrefix(e.srv.URL, "http://127.0.0.1:")
	for _, style := range []string{"path"} {
		t.Run(style, func(t *testing.T) {
			prefix := "boto2v4-" + style + "/"
			recs := runBoto2(t, e, c, boto2Run{script: script, botoCfg: botoCfg, port: port, style: style, prefix: prefix,
				vars: []string{"S3X_HOST=s3.localhost", "S3X_SIGV4_REGION=us-west-2"}, wantAuth: "S3HmacAuthV4Handler"})
			for _, r := range recs {
				if !strings.HasPrefix(r.AuthType, "sigv4") || r.Identity != rwKey || r.Status >= 300 && r.Status != 404 {
					t.Errorf("record %+v: want sigv4 by %s, success", r, rwKey)
				}
			}
			if len(recs) < 10 {
				t.Errorf("%d access records, want the whole run", len(recs))
			}
			sessionSigned(t, e, "PutObject", "GetObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
				"ListObjectsV2", "DeleteObject", "DeleteObjects")
		})
	}
}
