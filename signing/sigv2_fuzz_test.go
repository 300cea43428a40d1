package signing

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzStringToSignV2 checks properties of the SigV2 canonicalizer on
// arbitrary buckets, paths, queries and x-amz-* header values:
//   - it never panics, fails only with ErrMalformedAuth, and is
//     deterministic;
//   - the CanonicalizedResource is "/" + bucket (virtual host) + the path as
//     sent, then exactly the sub-resources of the query, sorted by name,
//     with decoded values (an independent parse of the query is the
//     oracle), so a parameter not on the list never appears;
//   - an unsigned parameter such as session changes nothing (which is why
//     the proxy refuses SigV2 requests that such a parameter selects),
//     and the bucket of a virtual-host request always does.
//
// Run: go test ./signing -run '^$' -fuzz '^FuzzStringToSignV2$' -fuzztime 2m -parallel 1
func FuzzStringToSignV2(f *testing.F) {
	f.Add("johnsmith", "/photos/puppy.jpg", "", "")
	f.Add("", "/johnsmith/photos/puppy.jpg", "versionId=3&uploads&acl&partNumber=2&uploadId=x", "a,b")
	f.Add("data", "/", "prefix=a&session&list-type=2", "")
	f.Add("b", "/k", "%61cl&response-content-type=text%2Fplain&versionId=a%26b", " folded\r\n value ")
	f.Add("b", "", "acl&acl", "")
	f.Fuzz(func(t *testing.T, bucket, path, query, amz string) {
		if strings.ContainsAny(bucket, "/?") || strings.ContainsRune(path, '?') || path != "" && path[0] != '/' {
			return // a Host label has no '/'; a request path starts with '/' and has no '?'
		}
		r := &http.Request{Method: "GET", Header: http.Header{}}
		r.Header.Set("Date", "Thu, 24 May 2013 00:00:00 GMT")
		if amz != "" {
			r.Header["X-Amz-Meta-F"] = []string{amz}
		}
		sts, err := stringToSignV2(v2Request{r: r, dateLine: "d", rawPath: path, rawQuery: query}, bucket)
		sts2, err2 := stringToSignV2(v2Request{r: r, dateLine: "d", rawPath: path, rawQuery: query}, bucket)
		if sts != sts2 || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %q %v, then %q %v", sts, err, sts2, err2)
		}
		want, wantOK := oracleResourceV2(bucket, path, query)
		if err != nil {
			if !errors.Is(err, ErrMalformedAuth) {
				t.Fatalf("unclassified error %v", err)
			}
			if wantOK {
				t.Fatalf("refused %q: %v", query, err)
			}
			return
		}
		if !wantOK {
			t.Fatalf("accepted %q (a bad escape or a repeated sub-resource)", query)
		}
		if !strings.HasSuffix(sts, "\n"+want) && sts != want {
			t.Fatalf("string to sign %q does not end in the resource %q", sts, want)
		}
		if bucket != "" && !strings.HasPrefix(want, "/"+bucket+"/") {
			t.Fatalf("virtual-host resource %q does not start with /%s/", want, bucket)
		}
		for _, extra := range []string{"session", "list-type=2", "attributes", "renameObject", "x-id=GetObject"} {
			q := extra
			if query != "" {
				q = query + "&" + extra
			}
			if s, err := stringToSignV2(v2Request{r: r, dateLine: "d", rawPath: path, rawQuery: q}, bucket); err != nil || s != sts {
				t.Fatalf("unsigned %s changed the string to sign: %q (%v), was %q", extra, s, err, sts)
			}
		}
		if other := bucket + "x"; bucket != "" {
			if s, _ := stringToSignV2(v2Request{r: r, dateLine: "d", rawPath: path, rawQuery: query}, other); s == sts {
				t.Fatalf("buckets %q and %q sign the same string %q", bucket, other, s)
			}
		}
	})
}

// oracleResourceV2 builds the expected CanonicalizedResource with the
// standard library's decoding, and reports false when the query must be
// refused (a bad escape anywhere in a name or in a sub-resource's value, a
// repeated sub-resource).
func oracleResourceV2(bucket, path, query string) (string, bool) {
	type param struct{ name, value string }
	var subs []param
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return "", false
		}
		if !SignedByV2(name) {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return "", false
		}
		if slices.ContainsFunc(subs, func(p param) bool { return p.name == name }) {
			return "", false
		}
		subs = append(subs, param{name, val})
	}
	slices.SortFunc(subs, func(a, b param) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	if bucket != "" {
		b.WriteString("/" + bucket)
	}
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	for i, p := range subs {
		b.WriteByte("?&"[min(i, 1)])
		b.WriteString(p.name)
		if p.value != "" {
			b.WriteString("=" + p.value)
		}
	}
	return b.String(), true
}
