package route

import (
	"errors"
	"strings"
	"testing"
)

// TestDefaultZone: a general purpose name means <name>--<zone>--x-s3 under
// DefaultZone; aliases, real names and DenyUnlisted keep their meaning.
func TestDefaultZone(t *testing.T) {
	aliases := []Alias{{Name: "logs", Target: "weblogs--use1-az4--x-s3"}}
	dz := Options{Region: "us-east-1", DefaultZone: "usw2-az1", Aliases: aliases}
	deny := dz
	deny.DenyUnlisted, deny.Allow = true, []string{"photos--usw2-az1--x-s3"}
	tests := []struct {
		name       string
		opts       Options
		in         string
		wantBucket string
		wantRegion string
		wantErr    error
	}{
		{"short name", dz, "photos", "photos--usw2-az1--x-s3", "us-west-2", nil},
		{"dotless hyphens", dz, "my-data-1", "my-data-1--usw2-az1--x-s3", "us-west-2", nil},
		{"alias wins", dz, "logs", "weblogs--use1-az4--x-s3", "us-east-1", nil},
		{"real name unchanged", dz, "b--use1-az4--x-s3", "b--use1-az4--x-s3", "us-east-1", nil},
		{"too long with the suffix", dz, strings.Repeat("a", 50), "", "", ErrDefaultZoneName},
		{"dotted", dz, "my.photos", "", "", ErrDefaultZoneName},
		{"invalid general name", dz, "Photos", "", "", ErrInvalidName},
		{"off: not a directory bucket", Options{Region: "us-east-1"}, "photos", "", "", ErrNotDirectoryBucket},
		{"deny: allowed real name", deny, "photos", "photos--usw2-az1--x-s3", "us-west-2", nil},
		{"deny: unlisted short name", deny, "videos", "", "", ErrNotAllowed},
		{"deny: alias", deny, "logs", "weblogs--use1-az4--x-s3", "us-east-1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.opts)
			for range 2 { // the second time from the cache
				got, err := r.Resolve(tt.in)
				if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
					t.Fatalf("Resolve(%q) error %v, want %v", tt.in, err, tt.wantErr)
				}
				if err != nil {
					continue
				}
				if got.Name != tt.in || got.Bucket != tt.wantBucket || got.Region != tt.wantRegion {
					t.Errorf("Resolve(%q) = name %q bucket %q region %q, want %q %q %q",
						tt.in, got.Name, got.Bucket, got.Region, tt.in, tt.wantBucket, tt.wantRegion)
				}
			}
		})
	}
}

func TestClientName(t *testing.T) {
	r := mustNew(t, Options{Region: "us-east-1", DefaultZone: "usw2-az1",
		Aliases: []Alias{{Name: "logs", Target: "x--use1-az4--x-s3"}}})
	off := mustNew(t, Options{Region: "us-east-1"})
	for _, tt := range []struct {
		r        *Router
		in, want string
	}{
		{r, "photos--usw2-az1--x-s3", "photos"},
		{r, "logs--usw2-az1--x-s3", "logs--usw2-az1--x-s3"}, // "logs" is an alias
		{r, "photos--use1-az4--x-s3", "photos--use1-az4--x-s3"},
		{r, "my--s3--usw2-az1--x-s3", "my--s3"},
		{off, "photos--usw2-az1--x-s3", "photos--usw2-az1--x-s3"},
	} {
		if got := tt.r.ClientName(tt.in); got != tt.want {
			t.Errorf("ClientName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDefaultZoneValidation(t *testing.T) {
	for _, z := range []string{"usw2", "usw2--az1", "USW2-AZ1", "usw2-az1.x"} {
		if _, err := New(Options{Region: "us-east-1", DefaultZone: z}); err == nil {
			t.Errorf("DefaultZone %q accepted", z)
		}
	}
}
