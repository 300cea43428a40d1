package route

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

func mustNew(t *testing.T, o Options) *Router {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return r
}

func TestResolveHosts(t *testing.T) {
	base := Options{Region: "us-west-2"}
	withZones := Options{Region: "us-west-2", Zones: map[string]string{"abcd-ab1": "eu-west-1", "use1-az4": "us-west-1"}}
	tests := []struct {
		name       string
		opts       Options
		in         string
		wantHost   string
		wantRegion string
		wantZone   string
		wantScheme string
	}{
		{"zone 8", base, "b--usw2-az1--x-s3", "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com", "us-west-2", "usw2-az1", "https"},
		{"zone 9", base, "b--apne1-az4--x-s3", "b--apne1-az4--x-s3.s3express-apne1-az4.ap-northeast-1.amazonaws.com", "ap-northeast-1", "apne1-az4", "https"},
		{"zone 13 local", base, "b--use1-atl2-az1--x-s3", "b--use1-atl2-az1--x-s3.s3express-use1-atl2-az1.us-east-1.amazonaws.com", "us-east-1", "use1-atl2-az1", "https"},
		{"zone 14 default region", base, "b--test1-zone-ab1--x-s3", "b--test1-zone-ab1--x-s3.s3express-test1-zone-ab1.us-west-2.amazonaws.com", "us-west-2", "test1-zone-ab1", "https"},
		{"zone 20 default region", base, "b--test1-long1-zone-ab1--x-s3", "b--test1-long1-zone-ab1--x-s3.s3express-test1-long1-zone-ab1.us-west-2.amazonaws.com", "us-west-2", "test1-long1-zone-ab1", "https"},
		{"base with --", base, "my--s3--bucket--abcd-ab1--x-s3", "my--s3--bucket--abcd-ab1--x-s3.s3express-abcd-ab1.us-west-2.amazonaws.com", "us-west-2", "abcd-ab1", "https"},
		{"access point", base, "myap--usw2-az1--xa-s3", "myap--usw2-az1--xa-s3.s3express-usw2-az1.us-west-2.amazonaws.com", "us-west-2", "usw2-az1", "https"},
		{"zones table wins over default", withZones, "b--abcd-ab1--x-s3", "b--abcd-ab1--x-s3.s3express-abcd-ab1.eu-west-1.amazonaws.com", "eu-west-1", "abcd-ab1", "https"},
		{"zones table wins over prefix", withZones, "b--use1-az4--x-s3", "b--use1-az4--x-s3.s3express-use1-az4.us-west-1.amazonaws.com", "us-west-1", "use1-az4", "https"},
		{"fips", Options{Region: "us-east-1", FIPS: true}, "b--use1-az4--x-s3", "b--use1-az4--x-s3.s3express-fips-use1-az4.us-east-1.amazonaws.com", "us-east-1", "use1-az4", "https"},
		{"dualstack", Options{Region: "us-east-1", Dualstack: true}, "b--use1-az4--x-s3", "b--use1-az4--x-s3.s3express-use1-az4.dualstack.us-east-1.amazonaws.com", "us-east-1", "use1-az4", "https"},
		{"fips dualstack", Options{Region: "us-east-1", FIPS: true, Dualstack: true}, "b--use1-az4--x-s3", "b--use1-az4--x-s3.s3express-fips-use1-az4.dualstack.us-east-1.amazonaws.com", "us-east-1", "use1-az4", "https"},
		{"cn by prefix", base, "b--cnn1-az1--x-s3", "b--cnn1-az1--x-s3.s3express-cnn1-az1.cn-north-1.amazonaws.com.cn", "cn-north-1", "cnn1-az1", "https"},
		{"cn local zone", base, "b--cnn1-pkx1-az1--x-s3", "b--cnn1-pkx1-az1--x-s3.s3express-cnn1-pkx1-az1.cn-north-1.amazonaws.com.cn", "cn-north-1", "cnn1-pkx1-az1", "https"},
		{"cn default region", Options{Region: "cn-north-1"}, "b--abcd-ab1--x-s3", "b--abcd-ab1--x-s3.s3express-abcd-ab1.cn-north-1.amazonaws.com.cn", "cn-north-1", "abcd-ab1", "https"},
		{"cn dualstack", Options{Region: "cn-north-1", Dualstack: true}, "b--cnnw1-az1--x-s3", "b--cnnw1-az1--x-s3.s3express-cnnw1-az1.dualstack.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1", "cnnw1-az1", "https"},
		{"gov", base, "b--usgw1-az1--x-s3", "b--usgw1-az1--x-s3.s3express-usgw1-az1.us-gov-west-1.amazonaws.com", "us-gov-west-1", "usgw1-az1", "https"},
		{"http scheme", Options{Region: "us-west-2", Scheme: "http"}, "b--usw2-az1--x-s3", "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com", "us-west-2", "usw2-az1", "http"},
		{"dns suffix override", Options{Region: "us-west-2", DNSSuffix: "example.internal"}, "b--usw2-az1--x-s3", "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.example.internal", "us-west-2", "usw2-az1", "https"},
		{"deny allows Allow", Options{Region: "us-west-2", DenyUnlisted: true, Allow: []string{"b--usw2-az1--x-s3"}}, "b--usw2-az1--x-s3", "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com", "us-west-2", "usw2-az1", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.opts)
			got, err := r.Resolve(tt.in)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.in, err)
			}
			if got.Host != tt.wantHost || got.Region != tt.wantRegion || got.Zone != tt.wantZone {
				t.Errorf("Resolve(%q) = host %q region %q zone %q; want %q %q %q", tt.in, got.Host, got.Region, got.Zone, tt.wantHost, tt.wantRegion, tt.wantZone)
			}
			if got.Name != tt.in || got.Bucket != tt.in || got.Alias != nil {
				t.Errorf("Resolve(%q) name %q bucket %q alias %v; want name=bucket=input, no alias", tt.in, got.Name, got.Bucket, got.Alias)
			}
			if want := tt.wantScheme + "://" + tt.wantHost; got.URL == nil || got.URL.String() != want {
				t.Errorf("URL = %v, want %s", got.URL, want)
			}
		})
	}
}

func TestResolveAlias(t *testing.T) {
	r := mustNew(t, Options{
		Region:       "us-west-2",
		DenyUnlisted: true,
		Aliases: []Alias{
			{Name: "logs", Target: "logs--usw2-az1--x-s3", Anonymous: 2},
			{Name: "my.legacy.bucket", Target: "data--use1-az4--x-s3"},
		},
	})
	got, err := r.Resolve("logs")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "logs" || got.Bucket != "logs--usw2-az1--x-s3" || got.Zone != "usw2-az1" || got.Region != "us-west-2" {
		t.Errorf("Resolve(logs) = %+v", got)
	}
	if got.Host != "logs--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com" {
		t.Errorf("host = %q", got.Host)
	}
	if got.Alias == nil || got.Alias.Name != "logs" || got.Alias.Anonymous != 2 {
		t.Errorf("alias = %+v, want logs with Anonymous 2", got.Alias)
	}
	got, err = r.Resolve("my.legacy.bucket")
	if err != nil || got.Bucket != "data--use1-az4--x-s3" || got.Region != "us-east-1" {
		t.Errorf("Resolve(my.legacy.bucket) = %+v, %v", got, err)
	}
	// The real name of an alias target is listed too, but carries no alias
	// (so no alias-level anonymous access).
	got, err = r.Resolve("logs--usw2-az1--x-s3")
	if err != nil || got.Alias != nil || got.Bucket != "logs--usw2-az1--x-s3" {
		t.Errorf("Resolve(target) = %+v, %v; want the bucket without alias", got, err)
	}
	// URLs are fresh values.
	a, _ := r.Resolve("logs")
	b, _ := r.Resolve("logs")
	a.URL.Host = "evil.example"
	if b.URL.Host == "evil.example" {
		t.Error("Resolve shares URL values between calls")
	}
}

func TestResolveErrors(t *testing.T) {
	pass := Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}}}
	deny := pass
	deny.DenyUnlisted = true
	deny.Allow = []string{"ok--usw2-az1--x-s3"}
	tests := []struct {
		name       string
		opts       Options
		in         string
		wantErr    error
		wantStatus int
		wantCode   string
	}{
		{"empty", pass, "", ErrInvalidName, 400, "InvalidBucketName"},
		{"bad zone length", pass, "b--usaz1--x-s3", ErrInvalidName, 400, "InvalidBucketName"},
		{"dot in directory name", pass, "my.b--usw2-az1--x-s3", ErrInvalidName, 400, "InvalidBucketName"},
		{"uppercase", pass, "Logs", ErrInvalidName, 400, "InvalidBucketName"},
		{"slash", pass, "a/b", ErrInvalidName, 400, "InvalidBucketName"},
		{"host chars", pass, "evil.com:443", ErrInvalidName, 400, "InvalidBucketName"},
		{"general name passthrough", pass, "mybucket", ErrNotDirectoryBucket, 404, "NoSuchBucket"},
		{"general name deny", deny, "mybucket", ErrNotAllowed, 403, "AccessDenied"},
		{"unlisted directory bucket deny", deny, "other--usw2-az1--x-s3", ErrNotAllowed, 403, "AccessDenied"},
		{"invalid name under deny is still 400", deny, "b--usaz1--x-s3", ErrInvalidName, 400, "InvalidBucketName"},
		{"fips in cn", Options{Region: "us-west-2", FIPS: true}, "b--cnn1-az1--x-s3", ErrFIPSPartition, 400, "InvalidRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.opts)
			got, err := r.Resolve(tt.in)
			if err == nil {
				t.Fatalf("Resolve(%q) = %+v, want error", tt.in, got)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			var se *s3err.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *s3err.Error", err)
			}
			if se.Status != tt.wantStatus || se.Code != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", se.Status, se.Code, tt.wantStatus, tt.wantCode)
			}
			if f := s3err.From(err); f.Status != tt.wantStatus || f.Code != tt.wantCode {
				t.Errorf("s3err.From = %d %s", f.Status, f.Code)
			}
		})
	}
	// Passing under deny, for contrast.
	r := mustNew(t, deny)
	for _, ok := range []string{"logs", "logs--usw2-az1--x-s3", "ok--usw2-az1--x-s3"} {
		if _, err := r.Resolve(ok); err != nil {
			t.Errorf("deny: Resolve(%q): %v", ok, err)
		}
	}
}

func TestNewValidation(t *testing.T) {
	good := "b--usw2-az1--x-s3"
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; "" means success
	}{
		{"minimal", Options{Region: "us-west-2"}, ""},
		{"no region", Options{}, "default region"},
		{"bad region", Options{Region: "us-west-2.evil.com"}, "default region"},
		{"bad scheme", Options{Region: "us-west-2", Scheme: "ftp"}, "scheme"},
		{"bad suffix", Options{Region: "us-west-2", DNSSuffix: "evil.com/x"}, "dns suffix"},
		{"bad suffix label", Options{Region: "us-west-2", DNSSuffix: "a..b"}, "dns suffix"},
		{"good suffix", Options{Region: "us-west-2", DNSSuffix: "localhost"}, ""},
		{"fips cn default", Options{Region: "cn-north-1", FIPS: true}, "FIPS"},
		{"bad zone id", Options{Region: "us-west-2", Zones: map[string]string{"usaz1": "us-west-2"}}, "zone"},
		{"bad zone region", Options{Region: "us-west-2", Zones: map[string]string{"usw2-az1": "us west"}}, "region"},
		{"alias ok", Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: good}}}, ""},
		{"alias bad name", Options{Region: "us-west-2", Aliases: []Alias{{Name: "Logs", Target: good}}}, "invalid name"},
		{"alias name is directory", Options{Region: "us-west-2", Aliases: []Alias{{Name: "x--usw2-az1--x-s3", Target: good}}}, "invalid name"},
		{"alias bad target", Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "logs"}}}, "not a valid directory bucket"},
		{"alias bad zone", Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: "b--usaz1--x-s3"}}}, "not a valid directory bucket"},
		{"alias duplicate", Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: good}, {Name: "logs", Target: good}}}, "twice"},
		{"alias fips cn", Options{Region: "us-west-2", FIPS: true, Aliases: []Alias{{Name: "logs", Target: "b--cnn1-az1--x-s3"}}}, "FIPS"},
		{"allow bad", Options{Region: "us-west-2", Allow: []string{"mybucket"}}, "allow"},
		{"allow alias", Options{Region: "us-west-2", Aliases: []Alias{{Name: "logs", Target: good}}, Allow: []string{"logs"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewCopiesOptions(t *testing.T) {
	zones := map[string]string{"abcd-ab1": "eu-west-1"}
	aliases := []Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}}
	r := mustNew(t, Options{Region: "us-west-2", Zones: zones, Aliases: aliases})
	zones["abcd-ab1"] = "evil.com"
	aliases[0].Target = "evil--usw2-az1--x-s3"
	got, err := r.Resolve("b--abcd-ab1--x-s3")
	if err != nil || got.Region != "eu-west-1" {
		t.Errorf("after mutating Zones: %+v, %v", got, err)
	}
	got, err = r.Resolve("logs")
	if err != nil || got.Bucket != "logs--usw2-az1--x-s3" {
		t.Errorf("after mutating Aliases: %+v, %v", got, err)
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		region string
		want   string
	}{
		{"plain", Options{Region: "us-west-2"}, "us-east-1", "https://s3express-control.us-east-1.amazonaws.com"},
		{"default region", Options{Region: "us-west-2"}, "", "https://s3express-control.us-west-2.amazonaws.com"},
		{"invalid region falls back", Options{Region: "us-west-2"}, "evil.com/", "https://s3express-control.us-west-2.amazonaws.com"},
		{"fips", Options{Region: "us-west-2", FIPS: true}, "us-east-1", "https://s3express-control-fips.us-east-1.amazonaws.com"},
		{"dualstack", Options{Region: "us-west-2", Dualstack: true}, "us-east-1", "https://s3express-control.dualstack.us-east-1.amazonaws.com"},
		{"fips dualstack", Options{Region: "us-west-2", FIPS: true, Dualstack: true}, "us-east-1", "https://s3express-control-fips.dualstack.us-east-1.amazonaws.com"},
		{"cn", Options{Region: "us-west-2"}, "cn-north-1", "https://s3express-control.cn-north-1.amazonaws.com.cn"},
		{"cn fips falls back", Options{Region: "us-west-2", FIPS: true}, "cn-north-1", "https://s3express-control-fips.us-west-2.amazonaws.com"},
		{"http suffix", Options{Region: "us-west-2", Scheme: "http", DNSSuffix: "localhost"}, "", "http://s3express-control.us-west-2.localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustNew(t, tt.opts).Control(tt.region)
			if got.URL.String() != tt.want || got.URL.Host != got.Host {
				t.Errorf("Control(%q) = %v (host %q), want %s", tt.region, got.URL, got.Host, tt.want)
			}
			if got.Bucket != "" || got.Alias != nil {
				t.Errorf("Control target has bucket %q alias %v", got.Bucket, got.Alias)
			}
		})
	}
}

func TestErrorsRenderable(t *testing.T) {
	r := mustNew(t, Options{Region: "us-west-2"})
	_, err := r.Resolve("Bad_Name")
	if s3err.From(err).Status != http.StatusBadRequest {
		t.Errorf("From(%v) = %+v", err, s3err.From(err))
	}
}
