package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// boto2Script drives boto 2.49 (Debian python3-boto) against the proxy
// with SigV2, boto's default for a custom host: argv[1] is "path"
// (OrdinaryCallingFormat, Host localhost:<port>) or "vhost"
// (SubdomainCallingFormat, Host <bucket>.localhost:<port>, the bucket in
// the signed resource). It puts, gets, lists, uploads in parts and
// deletes, checking each answer, and prints a JSON summary.
//
// glibc's resolver here (files, dns) has no *.localhost wildcard (systemd's
// nss-myhostname would provide one), so the script resolves names under
// .localhost to 127.0.0.1 itself: it stands in for the wildcard DNS record
// a virtual-host deployment has, and changes nothing boto sends.
const boto2Script = `
import io, json, os, socket, sys

_getaddrinfo = socket.getaddrinfo
def _resolve(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _resolve

import boto
from boto.s3.connection import S3Connection, OrdinaryCallingFormat, SubdomainCallingFormat

style, bucket_name, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
fmt = OrdinaryCallingFormat() if style == "path" else SubdomainCallingFormat()
conn = S3Connection(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
    host=os.environ.get("S3X_HOST", "localhost"), port=int(os.environ["S3X_PORT"]), is_secure=False, calling_format=fmt)
auth = conn._auth_handler.__class__.__name__
if os.environ.get("S3X_SIGV4_REGION"):
    # boto 2's SigV4 takes the region from the host name, port included.
    conn._auth_handler.region_name = os.environ["S3X_SIGV4_REGION"]
bucket = conn.get_bucket(bucket_name)

def check(cond, what):
    if not cond:
        sys.exit("boto2 %s: %s" % (style, what))

# put (boto compares the ETag with the MD5 it computed) and get
small = bytes(range(256)) * 40
k = bucket.new_key(prefix + "small file")
k.set_contents_from_string(small, headers={"Content-Type": "application/octet-stream"})
got = bucket.get_key(prefix + "small file")
check(got is not None and got.size == len(small), "HEAD after put")
check(got.get_contents_as_string() == small, "get returned other bytes")

# multipart: a 5 MiB part and a short last one
part1 = bytes((i * 7) % 251 for i in range(5 << 20))
part2 = b"tail" * 1000
mp = bucket.initiate_multipart_upload(prefix + "big")
mp.upload_part_from_file(io.BytesIO(part1), 1)
mp.upload_part_from_file(io.BytesIO(part2), 2)
check(len(list(mp)) == 2, "list parts")
mp.complete_upload()
check(bucket.get_key(prefix + "big").get_contents_as_string() == part1 + part2, "multipart object differs")

# listings (ListObjects V1: prefix, delimiter, marker paging)
bucket.new_key(prefix + "dir/a").set_contents_from_string(b"a")
bucket.new_key(prefix + "dir/b").set_contents_from_string(b"b")
flat = sorted(x.name for x in bucket.list(prefix=prefix))
tops = sorted(x.name for x in bucket.list(prefix=prefix, delimiter="/"))
paged = [x.name for x in bucket.get_all_keys(prefix=prefix, max_keys=1)]

# delete one, then the rest in one multi-object delete
bucket.delete_key(prefix + "small file")
check(bucket.get_key(prefix + "small file") is None, "object still there after delete")
res = bucket.delete_keys([prefix + "big", prefix + "dir/a", prefix + "dir/b"])
check(len(res.errors) == 0, "delete_keys errors %r" % [(e.key, e.code) for e in res.errors])
left = [x.name for x in bucket.list(prefix=prefix)]
print(json.dumps({"auth": auth, "flat": flat, "tops": tops, "paged": len(paged), "left": left}))
`

// TestLegacyBoto2: boto 2.49 with SigV2, path-style and virtual-host: put,
// get, multipart, list, delete. Virtual-host SigV2 signs the bucket in the
// resource; before the proxy did too it answered SignatureDoesNotMatch.
// boto 2 compares each upload's ETag with its MD5 (boto/s3/key.py): the
// default ETag contract answers it (docs/compat.md).
func TestLegacyBoto2(t *testing.T) {
	needTool(t, pythonPath, "boto")
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.SigV2 = true
		o.VirtualHostDomains = []string{vhostDomain}
	}})
	c := newCLIEnv(t, e)
	script := c.file(t, "boto2_legacy.py", []byte(boto2Script))
	botoCfg := c.file(t, "boto.cfg", nil)
	port := strings.TrimPrefix(e.srv.URL, "http://127.0.0.1:")
	for _, style := range []string{"path", "vhost"} {
		t.Run(style, func(t *testing.T) {
			prefix := "boto2-" + style + "/"
			recs := runBoto2(t, e, c, boto2Run{script: script, botoCfg: botoCfg, port: port, style: style,
				prefix: prefix, wantAuth: "HmacAuthV1Handler"})
			hosts := 0
			for _, r := range recs {
				if r.AuthType != "sigv2" || r.Identity != rwKey || r.Status >= 300 && r.Status != 404 {
					t.Errorf("record %+v: want sigv2 by %s, success", r, rwKey)
				}
				if r.Operation == "CreateSession" {
					t.Errorf("SigV2 CreateSession answered: %+v", r)
				}
				hosts++
			}
			if hosts < 10 {
				t.Errorf("%d access records, want the whole run", hosts)
			}
			sessionSigned(t, e, "PutObject", "GetObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
				"ListObjectsV2", "DeleteObject", "DeleteObjects")
		})
	}
}

// boto2Run is one run of boto2Script through the proxy.
type boto2Run struct {
	script, botoCfg, port, style, prefix string
	vars                                 []string // extra environment
	wantAuth                             string   // the boto auth handler class it must sign with
}

// runBoto2 runs boto2Script (put, get, multipart, list V1 with and without
// delimiter and paged, delete, multi delete), checks the handler boto
// signed with and the listings it saw, and returns the run's access
// records.
func runBoto2(t *testing.T, e *env, c *cliEnv, r boto2Run) []proxy.Record {
	t.Helper()
	e.emu.ResetStats()
	n := len(e.recs.all())
	vars := append([]string{"S3X_PORT=" + r.port, "AWS_ACCESS_KEY_ID=" + rwKey, "AWS_SECRET_ACCESS_KEY=" + rwSecret,
		"BOTO_CONFIG=" + r.botoCfg, "BOTO_PATH=" + r.botoCfg}, r.vars...)
	out, code := c.run(t, vars, "", pythonPath, r.script, r.style, aliasData, r.prefix)
	mustOK(t, "boto2 "+r.wantAuth+" "+r.style, out, code)
	var res struct {
		Auth             string
		Flat, Tops, Left []string
		Paged            int
	}
	if err := json.Unmarshal(bytes.TrimSpace([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])), &res); err != nil {
		t.Fatalf("boto2 output: %v:\n%s", err, out)
	}
	if res.Auth != r.wantAuth {
		t.Errorf("boto signed with %s, want %s", res.Auth, r.wantAuth)
	}
	p := r.prefix
	wantFlat := []string{p + "big", p + "dir/a", p + "dir/b", p + "small file"}
	if !slices.Equal(res.Flat, wantFlat) || !slices.Equal(res.Tops, []string{p + "big", p + "dir/", p + "small file"}) ||
		res.Paged != 1 || len(res.Left) != 0 {
		t.Errorf("listings %+v, want flat %v", res, wantFlat)
	}
	return e.recs.all()[n:]
}
