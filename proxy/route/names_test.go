package route

import (
	"strings"
	"testing"
)

func TestParseDirectory(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantZone string
		wantOK   bool
	}{
		{"az id 8", "mybucket--use1-az4--x-s3", "use1-az4", true},
		{"sdk test zone 8", "mybucket--abcd-ab1--x-s3", "abcd-ab1", true},
		{"az id 9", "mybucket--apne1-az4--x-s3", "apne1-az4", true},
		{"sdk test zone 9", "mybucket--usw2-az12--x-s3", "usw2-az12", true},
		{"local zone 13", "mybucket--use1-atl2-az1--x-s3", "use1-atl2-az1", true},
		{"sdk test zone 13", "mybucket--test-zone-ab1--x-s3", "test-zone-ab1", true},
		{"sdk test zone 14", "mybucket--test1-zone-ab1--x-s3", "test1-zone-ab1", true},
		{"sdk test zone 20", "mybucket--test1-long1-zone-ab1--x-s3", "test1-long1-zone-ab1", true},
		{"base contains --", "my--s3--bucket--abcd-ab1--x-s3", "abcd-ab1", true},
		{"base ends with dash", "base---abcd-ab1--x-s3", "abcd-ab1", true},
		{"one-char base", "a--usw2-az1--x-s3", "usw2-az1", true},
		{"access point", "myap--usw2-az1--xa-s3", "usw2-az1", true},
		{"access point base with --", "my--ap--usw2-az1--xa-s3", "usw2-az1", true},
		{"exactly 63", strings.Repeat("a", 63-len("--usw2-az1--x-s3")) + "--usw2-az1--x-s3", "usw2-az1", true},

		{"zone 5 chars", "mybucket--usaz1--x-s3", "", false},
		{"zone 7 chars", "mybucket--use-az1--x-s3", "", false},
		{"zone 10 chars", "mybucket--use1-az123--x-s3", "", false},
		{"zone 12 chars", "mybucket--use1-atl-az1--x-s3", "", false},
		{"zone 15 chars", "mybucket--use123-atl2-az1--x-s3", "", false},
		{"zone 19 chars", "mybucket--test-long1-zone-ab1--x-s3", "", false},
		{"zone 21 chars", "mybucket--test12-long1-zone-ab1--x-s3", "", false},
		{"64 chars", strings.Repeat("a", 64-len("--usw2-az1--x-s3")) + "--usw2-az1--x-s3", "", false},
		{"no base", "--usw2-az1--x-s3", "", false},
		{"no zone separator", "usw2-az1--x-s3", "", false},
		{"dot", "my.bucket--usw2-az1--x-s3", "", false},
		{"uppercase", "MyBucket--usw2-az1--x-s3", "", false},
		{"underscore", "my_bucket--usw2-az1--x-s3", "", false},
		{"leading dash", "-mybucket--usw2-az1--x-s3", "", false},
		{"xn-- prefix", "xn--bucket--usw2-az1--x-s3", "", false},
		{"sthree- prefix", "sthree-bucket--usw2-az1--x-s3", "", false},
		{"sthree-configurator prefix", "sthree-configurator--usw2-az1--x-s3", "", false},
		{"amzn-s3-demo- prefix", "amzn-s3-demo-b--usw2-az1--x-s3", "", false},
		{"zone ends with dash", "mybucket--usw2-az--x-s3x", "", false},
		{"zone trailing dash", "mybucket--usw2-az1---x-s3", "", false},
		{"general purpose", "mybucket", "", false},
		{"wrong suffix", "mybucket--usw2-az1--x-s4", "", false},
		{"suffix only", "--x-s3", "", false},
		{"empty", "", "", false},
		{"host injection", "b--usw2-az1--x-s3/evil.com", "", false},
		{"host injection at", "evil.com@b--usw2-az1--x-s3", "", false},
		{"unicode", "bück--usw2-az1--x-s3", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zone, ok := parseDirectory(tt.in)
			if zone != tt.wantZone || ok != tt.wantOK {
				t.Errorf("parseDirectory(%q) = %q, %v; want %q, %v", tt.in, zone, ok, tt.wantZone, tt.wantOK)
			}
			if got := IsDirectoryBucket(tt.in); got != tt.wantOK {
				t.Errorf("IsDirectoryBucket(%q) = %v, want %v", tt.in, got, tt.wantOK)
			}
		})
	}
}

func TestValidGeneralName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"simple", "logs", true},
		{"dots", "my.legacy.bucket", true},
		{"digits", "123", true},
		{"dashes", "my-bucket", true},
		{"too short", "ab", false},
		{"too long", strings.Repeat("a", 64), false},
		{"63", strings.Repeat("a", 63), true},
		{"uppercase", "Logs", false},
		{"leading dot", ".logs", false},
		{"trailing dash", "logs-", false},
		{"double dot", "a..b", false},
		{"dot dash", "a.-b", false},
		{"dash dot", "a-.b", false},
		{"ipv4", "192.168.1.1", false},
		{"xn--", "xn--abc", false},
		{"s3alias", "foo-s3alias", false},
		{"ol-s3", "foo--ol-s3", false},
		{"directory suffix", "foo--usw2-az1--x-s3", false},
		{"access point suffix", "foo--usw2-az1--xa-s3", false},
		{"slash", "a/b", false},
		{"colon", "a:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validGeneralName(tt.in); got != tt.want {
				t.Errorf("validGeneralName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRegionFromZone(t *testing.T) {
	tests := []struct{ zone, want string }{
		{"use1-az4", "us-east-1"},
		{"use2-az1", "us-east-2"},
		{"usw1-az1", "us-west-1"},
		{"usw2-az1", "us-west-2"},
		{"cac1-az1", "ca-central-1"},
		{"euw1-az1", "eu-west-1"},
		{"euw3-az1", "eu-west-3"},
		{"euc1-az1", "eu-central-1"},
		{"eus1-az1", "eu-south-1"},
		{"eun1-az1", "eu-north-1"},
		{"apse1-az1", "ap-southeast-1"},
		{"apse2-az1", "ap-southeast-2"},
		{"aps1-az1", "ap-south-1"},
		{"apne1-az4", "ap-northeast-1"},
		{"apne2-az1", "ap-northeast-2"},
		{"ape1-az1", "ap-east-1"},
		{"sae1-az1", "sa-east-1"},
		{"afs1-az1", "af-south-1"},
		{"mec1-az1", "me-central-1"},
		{"ilc1-az1", "il-central-1"},
		{"usgw1-az1", "us-gov-west-1"},
		{"usge1-az1", "us-gov-east-1"},
		{"cnn1-az1", "cn-north-1"},
		{"cnnw1-az1", "cn-northwest-1"},
		{"use1-atl2-az1", "us-east-1"},
		{"cnn1-pkx1-az1", "cn-north-1"},
		{"abcd-ab1", ""},
		{"test-zone-ab1", ""},
		{"test1-zone-ab1", ""},
		{"zzw1-az1", ""},  // unknown geography
		{"usx1-az1", ""},  // unknown direction
		{"usw-az12", ""},  // no number
		{"usw01-az1", ""}, // leading zero
		{"us1-az123", ""}, // no direction
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			if got := regionFromZone(tt.zone); got != tt.want {
				t.Errorf("regionFromZone(%q) = %q, want %q", tt.zone, got, tt.want)
			}
		})
	}
}
