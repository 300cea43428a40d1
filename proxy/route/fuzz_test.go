package route

import (
	"strings"
	"testing"
)

// FuzzResolve proves Resolve cannot be steered to a foreign host: whatever
// the name, a successful result's host is the bucket label followed by the
// expected Zonal labels and suffix, and only uses [a-z0-9.-].
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"b--usw2-az1--x-s3", "logs", "my--s3--bucket--abcd-ab1--x-s3", "b--cnn1-az1--x-s3",
		"b--use1-atl2-az1--x-s3", "a.b--usw2-az1--x-s3", "evil.com@b--usw2-az1--x-s3",
		"b--usw2-az1--x-s3.evil.com", "b--usw2-az1--x-s3:443", "b--usw2-az1--xa-s3", "\x00",
	} {
		f.Add(s)
	}
	routers := []*Router{}
	for _, o := range []Options{
		{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}}},
		{Region: "us-east-1", FIPS: true, Dualstack: true},
		{Region: "cn-north-1", Dualstack: true},
		{Region: "us-west-2", DNSSuffix: "localhost", Scheme: "http"},
	} {
		r, err := New(o)
		if err != nil {
			f.Fatal(err)
		}
		routers = append(routers, r)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, r := range routers {
			got, err := r.Resolve(name)
			if err != nil {
				continue
			}
			checkHost(t, r, name, got)
		}
	})
}

func checkHost(t *testing.T, r *Router, name string, got Target) {
	t.Helper()
	for i := 0; i < len(got.Host); i++ {
		if c := got.Host[i]; !isLowerAlnum(c) && c != '.' && c != '-' {
			t.Fatalf("Resolve(%q): host %q has byte %q", name, got.Host, c)
		}
	}
	suffix := r.opts.DNSSuffix
	if suffix == "" {
		suffix = "amazonaws.com"
		if isChina(got.Region) {
			suffix = "amazonaws.com.cn"
		}
	}
	zonal := ".s3express-"
	if r.opts.FIPS {
		zonal += "fips-"
	}
	zonal += got.Zone
	if r.opts.Dualstack {
		zonal += ".dualstack"
	}
	want := got.Bucket + zonal + "." + got.Region + "." + suffix
	if got.Host != want || !strings.HasSuffix(got.Host, "."+suffix) {
		t.Fatalf("Resolve(%q): host %q, want %q", name, got.Host, want)
	}
	if strings.Contains(got.Bucket, ".") || !IsDirectoryBucket(got.Bucket) {
		t.Fatalf("Resolve(%q): bucket %q is not a valid directory bucket", name, got.Bucket)
	}
	if got.URL.Host != got.Host || got.URL.Path != "" || got.URL.User != nil {
		t.Fatalf("Resolve(%q): URL %v does not match host %q", name, got.URL, got.Host)
	}
}

// FuzzResolveParts explores names built as base--zone--suffix, so most
// inputs get past the length and suffix checks and reach host building.
func FuzzResolveParts(f *testing.F) {
	f.Add("b", "usw2-az1", false)
	f.Add("my--s3--bucket", "use1-atl2-az1", true)
	f.Add("a.b", "cnn1-az1", false)
	f.Add("x", "evil.com/az", false)
	r, err := New(Options{Region: "us-west-2", Dualstack: true, Zones: map[string]string{"abcd-ab1": "eu-west-1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, base, zone string, ap bool) {
		suffix := suffixBucket
		if ap {
			suffix = suffixAccessPoint
		}
		name := base + "--" + zone + suffix
		got, err := r.Resolve(name)
		if err != nil {
			return
		}
		if got.Bucket != name || !strings.HasSuffix(name, "--"+got.Zone+suffix) || strings.Contains(got.Zone, "--") {
			t.Fatalf("Resolve(%q): bucket %q zone %q", name, got.Bucket, got.Zone)
		}
		checkHost(t, r, name, got)
	})
}
