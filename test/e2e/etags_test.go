package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/signing"
)

// markedETag is the form every ETag other than a PutObject / UploadPart
// MD5 reaches the client in under the default ETag contract.
var markedETag = regexp.MustCompile(`^"[0-9a-f]{32}(-[0-9]+)?-s3x"$`)

// etagCaller sends signed requests for keys of the data alias, path-style
// or virtual-host style.
type etagCaller struct {
	e     *env
	vhost bool
}

func (c etagCaller) do(t *testing.T, method, key, query string, body []byte, hdr http.Header) (int, []byte, http.Header) {
	t.Helper()
	path := signing.EncodePath("/" + key)
	if !c.vhost {
		path = "/" + aliasData + path
	}
	u := c.e.url(path)
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.vhost {
		addr := c.e.srv.Listener.Addr().String()
		req.Host = aliasData + ".s3.test" + addr[strings.LastIndex(addr, ":"):]
	}
	for k, vv := range hdr {
		req.Header[k] = vv
	}
	return do(t, signedRequestFrom(t, req, rwKey, rwSecret, body, time.Now()))
}

func (c etagCaller) must(t *testing.T, want int, method, key, query string, body []byte, hdr http.Header) ([]byte, http.Header) {
	t.Helper()
	status, b, h := c.do(t, method, key, query, body, hdr)
	if status != want {
		t.Fatalf("%s %s?%s (vhost %v): status %d, want %d: %s", method, key, query, c.vhost, status, want, b)
	}
	return b, h
}

// contentMD5 is the Content-MD5 header value of b.
func contentMD5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// xmlETags returns the content of every ETag element of an XML document.
func xmlETags(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "ETag" {
			var v string
			if err := d.DecodeElement(&v, &se); err != nil {
				t.Fatalf("ETag element: %v in %s", err, b)
			}
			out = append(out, v)
		}
	}
}

// TestETagContract: with the default configuration, PutObject answers the
// MD5 its client declared (Content-MD5) and every other ETag (HEAD, GET,
// listings V1 and V2, CopyObject, GetObjectAttributes, a PutObject without
// Content-MD5) is marked; marked ETags in If-Match, If-None-Match and the
// copy-source conditions behave as S3's own would.
func TestETagContract(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := etagCaller{e: e}
	body := payload(40_000, 81)
	_, h := c.must(t, 200, "PUT", "etag/obj", "", body, http.Header{"Content-Md5": {contentMD5(body)}})
	if got := h.Get("ETag"); got != quotedMD5(body) {
		t.Fatalf("PutObject ETag %s, want the MD5 %s", got, quotedMD5(body))
	}
	_, h = c.must(t, 200, "HEAD", "etag/obj", "", nil, nil)
	etag := h.Get("ETag")
	if !markedETag.MatchString(etag) {
		t.Fatalf("HEAD ETag %q, want S3's marked", etag)
	}
	_, h = c.must(t, 200, "PUT", "etag/undeclared", "", body, nil)
	_, hh := c.must(t, 200, "HEAD", "etag/undeclared", "", nil, nil)
	if got := h.Get("ETag"); !markedETag.MatchString(got) || got != hh.Get("ETag") {
		t.Fatalf("PutObject without Content-MD5: ETag %s, want S3's marked, as HEAD says (%s)", got, hh.Get("ETag"))
	}
	other := `"` + strings.Repeat("f", 32) + `-s3x"`

	t.Run("GET and HEAD conditions", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			hdr    http.Header
			status int
		}{
			{"no condition", nil, 200},
			{"If-Match marked", http.Header{"If-Match": {etag}}, 200},
			{"If-Match marked, in a list", http.Header{"If-Match": {other + ", " + etag}}, 200},
			{"If-Match another marked", http.Header{"If-Match": {other}}, 412},
			{"If-Match the PUT's MD5 (not mappable)", http.Header{"If-Match": {quotedMD5(body)}}, 412},
			{"If-Match crafted multipart-like", http.Header{"If-Match": {`"abc-1"`}}, 412},
			{"If-Match *", http.Header{"If-Match": {"*"}}, 200},
			{"If-None-Match marked", http.Header{"If-None-Match": {etag}}, 304},
			{"If-None-Match another marked", http.Header{"If-None-Match": {other}}, 200},
			{"If-None-Match the PUT's MD5 (not mappable)", http.Header{"If-None-Match": {quotedMD5(body)}}, 200},
			{"duplicated If-Match, marked first", http.Header{"If-Match": {etag, other}}, 200},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				status, b, rh := c.do(t, method, "etag/obj", "", nil, tt.hdr)
				if status != tt.status {
					t.Errorf("%s %s: status %d, want %d: %s", method, tt.name, status, tt.status, b)
				}
				if status == 200 && method == "GET" && !bytes.Equal(b, body) {
					t.Errorf("GET %s: %d bytes, want the %d stored", tt.name, len(b), len(body))
				}
				if (status == 200 || status == 304) && rh.Get("ETag") != etag {
					t.Errorf("%s %s: ETag %q, want %q", method, tt.name, rh.Get("ETag"), etag)
				}
			}
		}
	})

	t.Run("copy-source conditions", func(t *testing.T) {
		src := http.Header{"X-Amz-Copy-Source": {"/" + aliasData + "/etag/obj"}}
		with := func(k, v string) http.Header {
			h := src.Clone()
			h.Set(k, v)
			return h
		}
		b, _ := c.must(t, 200, "PUT", "etag/copy", "", nil, with("X-Amz-Copy-Source-If-Match", etag))
		tags := xmlETags(t, b)
		_, hh := c.must(t, 200, "HEAD", "etag/copy", "", nil, nil)
		if len(tags) != 1 || tags[0] != hh.Get("ETag") || !markedETag.MatchString(tags[0]) {
			t.Errorf("CopyObject result ETags %q, want the copy's marked %q", tags, hh.Get("ETag"))
		}
		c.must(t, 412, "PUT", "etag/copy2", "", nil, with("X-Amz-Copy-Source-If-Match", other))
		c.must(t, 412, "PUT", "etag/copy2", "", nil, with("X-Amz-Copy-Source-If-None-Match", etag))
		c.must(t, 200, "PUT", "etag/copy2", "", nil, with("X-Amz-Copy-Source-If-None-Match", other))
	})

	t.Run("listings", func(t *testing.T) {
		for _, q := range []string{
			"list-type=2&prefix=etag%2F",                 // V2, forwarded
			"list-type=2&prefix=etag%2Fob&delimiter=%2F", // V2, prefix filtered
			"prefix=etag%2F",                             // V1
			"prefix=etag%2Fob&delimiter=%2F",             // V1, prefix filtered
		} {
			st, b, _ := c.do(t, "GET", "", q, nil, nil)
			tags := xmlETags(t, b)
			if st != 200 || !slices.Contains(tags, etag) {
				t.Errorf("list %s: status %d, ETags %q, want %q among them: %s", q, st, tags, etag, b)
			}
			for _, tag := range tags {
				if !markedETag.MatchString(tag) {
					t.Errorf("list %s: ETag %q not marked", q, tag)
				}
			}
		}
	})

	t.Run("GetObjectAttributes", func(t *testing.T) {
		b, _ := c.must(t, 200, "GET", "etag/obj", "attributes", nil, http.Header{"X-Amz-Object-Attributes": {"ETag,ObjectSize"}})
		if tags := xmlETags(t, b); len(tags) != 1 || `"`+tags[0]+`"` != etag {
			t.Errorf("GetObjectAttributes ETags %q, want %s unquoted: %s", tags, etag, b)
		}
	})
}

// TestETagContractMultipart: UploadPart answers the MD5 declared in
// Content-MD5 (else S3's ETag, marked), UploadPartCopy and ListParts marked
// ETags, and CompleteMultipartUpload accepts a list mixing both, path-style
// and virtual-host, answering S3's ETag marked.
func TestETagContractMultipart(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.VirtualHostDomains = []string{"s3.test"} }})
	seed := payload(5<<20, 82)
	etagCaller{e: e}.must(t, 200, "PUT", "mpe/seed", "", seed, nil)
	for _, vhost := range []bool{false, true} {
		t.Run(fmt.Sprintf("vhost=%v", vhost), func(t *testing.T) {
			c := etagCaller{e: e, vhost: vhost}
			key := fmt.Sprintf("mpe/obj-%v", vhost)
			b, _ := c.must(t, 200, "POST", key, "uploads", nil, nil)
			var init struct{ UploadId string }
			if err := xml.Unmarshal(b, &init); err != nil || init.UploadId == "" {
				t.Fatalf("CreateMultipartUpload: %v: %s", err, b)
			}
			up := "uploadId=" + url.QueryEscape(init.UploadId)
			p1, p3 := payload(5<<20, 83), payload(1000, 84)
			_, h1 := c.must(t, 200, "PUT", key, "partNumber=1&"+up, p1, http.Header{"Content-Md5": {contentMD5(p1)}})
			b2, _ := c.must(t, 200, "PUT", key, "partNumber=2&"+up, nil,
				http.Header{"X-Amz-Copy-Source": {"/" + aliasData + "/mpe/seed"}})
			_, h3 := c.must(t, 200, "PUT", key, "partNumber=3&"+up, p3, nil)
			tags := []string{h1.Get("ETag"), "", h3.Get("ETag")}
			if ct := xmlETags(t, b2); len(ct) == 1 {
				tags[1] = ct[0]
			}
			if tags[0] != quotedMD5(p1) || !markedETag.MatchString(tags[1]) || !markedETag.MatchString(tags[2]) {
				t.Fatalf("part ETags %q: want MD5, marked, marked", tags)
			}
			lp, _ := c.must(t, 200, "GET", key, up, nil, nil)
			listed := xmlETags(t, lp)
			if len(listed) != 3 || listed[1] != tags[1] || listed[2] != tags[2] {
				t.Errorf("ListParts ETags %q: want 3, marked, parts 2 and 3 = %q", listed, tags[1:])
			}
			for _, l := range listed {
				if !markedETag.MatchString(l) {
					t.Errorf("ListParts ETag %q not marked", l)
				}
			}
			var complete strings.Builder
			complete.WriteString("<CompleteMultipartUpload>")
			for i, tag := range tags {
				fmt.Fprintf(&complete, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, tag)
			}
			complete.WriteString("</CompleteMultipartUpload>")
			b, _ = c.must(t, 200, "POST", key, up, []byte(complete.String()), nil)
			done := xmlETags(t, b)
			_, hh := c.must(t, 200, "HEAD", key, "", nil, nil)
			if len(done) != 1 || done[0] != hh.Get("ETag") || !strings.HasSuffix(done[0], `-3-s3x"`) {
				t.Errorf("CompleteMultipartUpload ETags %q, HEAD %q: want S3's multipart ETag, marked, in both", done, hh.Get("ETag"))
			}
			got, _ := c.must(t, 200, "GET", key, "", nil, nil)
			if want := append(append(append([]byte(nil), p1...), seed...), p3...); !bytes.Equal(got, want) {
				t.Errorf("object of %d bytes, want the %d of the three parts", len(got), len(want))
			}
		})
	}
}
