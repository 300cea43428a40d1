package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// Bucket lifecycle under buckets.default_zone (docs/compat.md, "Bucket
// lifecycle"): short names, legacy CreateBucket / DeleteBucket, the
// create_buckets flag.

const (
	defaultZone = "usw2-az1"
	// noCreateKey may read and write every bucket but not create any.
	noCreateKey    = "E2ELOCALNOCREATE0001"
	noCreateSecret = "e2eLocalNoCreateSecret00000000000000000001"
)

// lifecycleEnv is newEnv (the default configuration) plus
// default_zone usw2-az1, virtual-host addressing under localhost, the
// read-write key allowed to create buckets and noCreateKey, then mut.
func lifecycleEnv(t *testing.T, mut func(*proxy.Options)) *env {
	return newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.DefaultZone = defaultZone
		o.VirtualHostDomains = []string{vhostDomain}
		o.Credentials[0].CreateBuckets = true // rwKey
		o.Credentials = append(o.Credentials, proxy.Credential{
			AccessKeyID: noCreateKey, SecretAccessKey: noCreateSecret, Buckets: []string{"*"}, Access: proxy.AccessReadWrite,
		})
		if mut != nil {
			mut(o)
		}
	}})
}

// bucketReq sends method on bucket (and key) through the proxy, path-style
// or, with vhost, as <bucket>.localhost, signed with SigV4 by key.
func bucketReq(t *testing.T, e *env, method, bucket, key string, vhost bool, cred [2]string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	u := e.url("/" + bucket)
	if key != "" {
		u += "/" + key
	}
	if vhost {
		u = e.url("/" + key)
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vhost {
		req.Host = bucket + "." + vhostDomain
	}
	return do(t, signedRequestFrom(t, req, cred[0], cred[1], body, time.Now()))
}

var (
	rwCred       = [2]string{rwKey, rwSecret}
	noCreateCred = [2]string{noCreateKey, noCreateSecret}
	roCred       = [2]string{roKey, roSecret}
)

func locationBody(region string) []byte {
	return []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>` +
		region + `</LocationConstraint></CreateBucketConfiguration>`)
}

// TestBucketLifecycle drives CreateBucket, HeadBucket, objects, ListBuckets
// and DeleteBucket by short name with raw signed requests, and the
// refusals: no create_buckets flag, read-only key, LocationConstraint of
// another region, DenyUnlisted, and no default zone at all.
func TestBucketLifecycle(t *testing.T) {
	e := lifecycleEnv(t, nil)

	t.Run("create with empty body", func(t *testing.T) {
		e.emu.ResetStats()
		status, b, h := bucketReq(t, e, http.MethodPut, "fresh", "", false, rwCred, nil)
		if status != http.StatusOK || h.Get("Location") != "/fresh" {
			t.Fatalf("CreateBucket: %d Location %q %s", status, h.Get("Location"), b)
		}
		if st := e.emu.Stats(); st.IAMRequests["CreateBucket"] != 1 {
			t.Errorf("want one IAM-signed CreateBucket on the control endpoint: %+v", st)
		}
		if status, b, _ := bucketReq(t, e, http.MethodHead, "fresh--usw2-az1--x-s3", "", false, rwCred, nil); status != http.StatusOK {
			t.Errorf("HeadBucket by real name: %d %s", status, b)
		}
	})
	t.Run("create again", func(t *testing.T) {
		status, b, _ := bucketReq(t, e, http.MethodPut, "fresh", "", false, rwCred, nil)
		if status != http.StatusConflict || s3Code(b) != "BucketAlreadyOwnedByYou" {
			t.Errorf("second CreateBucket: %d %s, want 409 BucketAlreadyOwnedByYou", status, b)
		}
	})
	t.Run("create virtual-host with LocationConstraint of the zone's region", func(t *testing.T) {
		status, b, _ := bucketReq(t, e, http.MethodPut, "vfresh", "", true, rwCred, locationBody("us-west-2"))
		if status != http.StatusOK {
			t.Fatalf("CreateBucket: %d %s", status, b)
		}
	})
	t.Run("objects by short name in both styles", func(t *testing.T) {
		e.emu.ResetStats()
		if status, b, _ := bucketReq(t, e, http.MethodPut, "fresh", "k/one", false, rwCred, []byte("one")); status != http.StatusOK {
			t.Fatalf("PUT path-style: %d %s", status, b)
		}
		status, b, _ := bucketReq(t, e, http.MethodGet, "fresh", "k/one", true, rwCred, nil)
		if status != http.StatusOK || string(b) != "one" {
			t.Fatalf("GET virtual-host: %d %q", status, b)
		}
		if status, b, _ := bucketReq(t, e, http.MethodHead, "vfresh", "", true, rwCred, nil); status != http.StatusOK {
			t.Errorf("HeadBucket virtual-host: %d %s", status, b)
		}
		sessionSigned(t, e, "PutObject", "GetObject")
	})
	t.Run("list buckets shows short names", func(t *testing.T) {
		status, b, _ := bucketReq(t, e, http.MethodGet, "", "", false, rwCred, nil)
		if status != http.StatusOK {
			t.Fatalf("ListBuckets: %d %s", status, b)
		}
		names := bucketNames(string(b))
		// data--usw2-az1--x-s3 keeps its real name: "data" is an alias.
		want := []string{aliasData, bucketData, "fresh", "other", "vfresh"}
		if !slices.Equal(names, want) {
			t.Errorf("ListBuckets %v, want %v", names, want)
		}
	})
	t.Run("delete non-empty, then empty", func(t *testing.T) {
		status, b, _ := bucketReq(t, e, http.MethodDelete, "fresh", "", false, rwCred, nil)
		if status != http.StatusConflict || s3Code(b) != "BucketNotEmpty" {
			t.Fatalf("DeleteBucket non-empty: %d %s", status, b)
		}
		bucketReq(t, e, http.MethodDelete, "fresh", "k/one", false, rwCred, nil)
		if status, b, _ := bucketReq(t, e, http.MethodDelete, "fresh", "", false, rwCred, nil); status != http.StatusNoContent {
			t.Fatalf("DeleteBucket: %d %s", status, b)
		}
		if status, _, _ := bucketReq(t, e, http.MethodHead, "fresh", "", false, rwCred, nil); status != http.StatusNotFound {
			t.Errorf("HeadBucket after delete: %d, want 404", status)
		}
	})

	refusals := []struct {
		name   string
		method string
		bucket string
		cred   [2]string
		body   []byte
		status int
		code   string
	}{
		{"create without create_buckets", http.MethodPut, "nope", noCreateCred, nil, 403, "AccessDenied"},
		{"delete without create_buckets", http.MethodDelete, "vfresh", noCreateCred, nil, 403, "AccessDenied"},
		{"create by a read-only key", http.MethodPut, "nope", roCred, nil, 403, "AccessDenied"},
		{"create in another region", http.MethodPut, "nope", rwCred, locationBody("eu-west-1"), 400, "IllegalLocationConstraintException"},
		{"create with us-east-1 constraint", http.MethodPut, "nope", rwCred, locationBody("us-east-1"), 400, "IllegalLocationConstraintException"},
		{"create with a body that is not XML", http.MethodPut, "nope", rwCred, []byte("<CreateBucketConfiguration>"), 400, "MalformedXML"},
		{"create in another zone", http.MethodPut, "nope", rwCred, []byte(`<CreateBucketConfiguration><Location><Name>use1-az4</Name><Type>AvailabilityZone</Type></Location></CreateBucketConfiguration>`), 400, "InvalidArgument"},
		{"short name too long for the zone", http.MethodPut, strings.Repeat("a", 50), rwCred, nil, 400, "InvalidBucketName"},
	}
	t.Run("delete with a local session of the bucket", func(t *testing.T) {
		// A session grants objects of one bucket, never its lifecycle,
		// even when issued to a key with create_buckets.
		status, code, sc := createLocalSession(t, e, rwKey, rwSecret, bucketOther, "", time.Now())
		if status != 200 {
			t.Fatalf("CreateSession: %d %s", status, code)
		}
		e.emu.ResetStats()
		status, b, _ := do(t, sessionRequest(t, http.MethodDelete, e.url("/"+bucketOther), sc, sc.SessionToken, nil, time.Now()))
		if status != 403 || s3Code(b) != "AccessDenied" {
			t.Errorf("session-signed DeleteBucket: %d %s, want 403 AccessDenied", status, b)
		}
		noUpstream(t, e)
	})
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			status, b, _ := bucketReq(t, e, tt.method, tt.bucket, "", false, tt.cred, tt.body)
			if status != tt.status || s3Code(b) != tt.code {
				t.Errorf("%d %s, want %d %s", status, b, tt.status, tt.code)
			}
			noUpstream(t, e)
		})
	}
}

// TestBucketLifecycleModes: without default_zone a short name is 404 and
// CreateBucket of a directory name 501 (as before); under buckets.default: deny a short name
// passes only when its real name is allowed; an alias wins over the
// default zone.
func TestBucketLifecycleModes(t *testing.T) {
	t.Run("no default zone", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		if status, b, _ := bucketReq(t, e, http.MethodGet, "other", "k", false, rwCred, nil); status != 404 || s3Code(b) != "NoSuchBucket" {
			t.Errorf("short name: %d %s, want 404 NoSuchBucket", status, b)
		}
		if status, b, _ := bucketReq(t, e, http.MethodPut, "fresh", "", false, rwCred, nil); status != 404 || s3Code(b) != "NoSuchBucket" {
			t.Errorf("CreateBucket short name: %d %s, want 404 NoSuchBucket", status, b)
		}
		if status, b, _ := bucketReq(t, e, http.MethodPut, "fresh--usw2-az1--x-s3", "", false, rwCred, nil); status != 501 || s3Code(b) != "NotImplemented" {
			t.Errorf("CreateBucket: %d %s, want 501 NotImplemented", status, b)
		}
	})
	t.Run("deny unlisted", func(t *testing.T) {
		e := lifecycleEnv(t, func(o *proxy.Options) {
			o.DenyUnlisted = true
			o.Allow = []string{bucketOther}
		})
		if status, b, _ := bucketReq(t, e, http.MethodPut, "other", "k", false, rwCred, []byte("v")); status != 200 {
			t.Errorf("PUT to an allowed short name: %d %s", status, b)
		}
		e.emu.ResetStats()
		if status, b, _ := bucketReq(t, e, http.MethodPut, "fresh", "", false, rwCred, nil); status != 403 || s3Code(b) != "AccessDenied" {
			t.Errorf("CreateBucket of an unlisted name: %d %s, want 403", status, b)
		}
		noUpstream(t, e)
	})
	t.Run("alias wins and globs match either name", func(t *testing.T) {
		e := lifecycleEnv(t, func(o *proxy.Options) {
			o.Aliases = append(o.Aliases, proxy.Alias{Name: "other", Target: bucketData})
			o.Credentials = append(o.Credentials, proxy.Credential{AccessKeyID: "E2ELOCALGLOB00000001", SecretAccessKey: narrowSecret,
				Buckets: []string{"fresh*", "*--usw2-az1--x-s3"}, Access: proxy.AccessReadWrite, CreateBuckets: true})
		})
		if status, b, _ := bucketReq(t, e, http.MethodPut, "other", "via-alias", false, rwCred, []byte("v")); status != 200 {
			t.Fatalf("PUT: %d %s", status, b)
		}
		if status, _, _ := bucketReq(t, e, http.MethodHead, bucketData, "via-alias", false, rwCred, nil); status != 200 {
			t.Errorf("the alias did not win: the object is not in %s", bucketData)
		}
		glob := [2]string{"E2ELOCALGLOB00000001", narrowSecret}
		if status, b, _ := bucketReq(t, e, http.MethodPut, "fresh2", "", false, glob, nil); status != 200 {
			t.Errorf("CreateBucket matched by the short-name glob: %d %s", status, b)
		}
		if status, b, _ := bucketReq(t, e, http.MethodPut, "elsewhere", "", false, glob, nil); status != 200 {
			t.Errorf("CreateBucket matched by the real-name glob: %d %s", status, b)
		}
		e.emu.ResetStats()
		if status, b, _ := bucketReq(t, e, http.MethodPut, "xyz", "", false, [2]string{narrowKey, narrowSecret}, nil); status != 403 {
			t.Errorf("CreateBucket outside the key's globs: %d %s, want 403", status, b)
		}
		noUpstream(t, e)
	})
}

// bucketNames extracts the sorted <Name> values of a ListAllMyBucketsResult.
func bucketNames(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "<Name>")
		if i < 0 {
			break
		}
		s = s[i+6:]
		j := strings.Index(s, "</Name>")
		out = append(out, s[:j])
		s = s[j:]
	}
	slices.Sort(out)
	return out
}

// TestCreateBucketAfterNoSuchBucket: the "check, create if missing, write"
// pattern of tools that make their bucket on first use. The first check's
// NoSuchBucket is remembered (sessions.negative_ttl); a successful
// CreateBucket through the proxy forgets it, so the write that follows
// works at once instead of answering NoSuchBucket for half a minute.
func TestCreateBucketAfterNoSuchBucket(t *testing.T) {
	e := lifecycleEnv(t, nil)
	if status, b, _ := bucketReq(t, e, http.MethodGet, "late", "k", false, rwCred, nil); status != http.StatusNotFound || s3Code(b) != "NoSuchBucket" {
		t.Fatalf("GET before CreateBucket: %d %s, want 404 NoSuchBucket", status, b)
	}
	if status, b, _ := bucketReq(t, e, http.MethodPut, "late", "", false, rwCred, nil); status != http.StatusOK {
		t.Fatalf("CreateBucket: %d %s", status, b)
	}
	if status, b, _ := bucketReq(t, e, http.MethodPut, "late", "k", false, rwCred, []byte("v")); status != http.StatusOK {
		t.Fatalf("PUT right after CreateBucket: %d %s, want 200", status, b)
	}
}
