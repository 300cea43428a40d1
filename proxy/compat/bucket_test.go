package compat

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

func TestDirectoryBucketConfig(t *testing.T) {
	az := DirectoryBucketInput{Zone: "usw2-az1", Region: "us-west-2"}
	lz := DirectoryBucketInput{Zone: "use1-atl2-az1", Region: "us-east-1"}
	tests := []struct {
		name     string
		in       DirectoryBucketInput
		body     string
		want     []string // substrings of the body sent upstream
		wantCode string
	}{
		{"empty", az, "", []string{"<Type>AvailabilityZone</Type><Name>usw2-az1</Name>", "<DataRedundancy>SingleAvailabilityZone</DataRedundancy><Type>Directory</Type>"}, ""},
		{"whitespace", az, " \n", []string{"<Name>usw2-az1</Name>"}, ""},
		{"local zone", lz, "", []string{"<Type>LocalZone</Type><Name>use1-atl2-az1</Name>", "<DataRedundancy>SingleLocalZone</DataRedundancy>"}, ""},
		{"matching constraint", az, "<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>", []string{"<Name>usw2-az1</Name>"}, ""},
		{"us-east-1 zone, us-east-1 constraint", lz, "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>", []string{"<Name>use1-atl2-az1</Name>"}, ""},
		{"directory body of the zone", az, "<CreateBucketConfiguration><Location><Name>usw2-az1</Name><Type>AvailabilityZone</Type></Location><Bucket><Type>Directory</Type></Bucket></CreateBucketConfiguration>", []string{"<Name>usw2-az1</Name>"}, ""},
		{"other region", az, "<CreateBucketConfiguration><LocationConstraint>EU</LocationConstraint></CreateBucketConfiguration>", nil, "IllegalLocationConstraintException"},
		{"other zone", az, "<CreateBucketConfiguration><Location><Name>usw2-az3</Name></Location></CreateBucketConfiguration>", nil, "InvalidArgument"},
		{"general purpose type", az, "<CreateBucketConfiguration><Bucket><Type>GeneralPurpose</Type></Bucket></CreateBucketConfiguration>", nil, "InvalidArgument"},
		{"not XML", az, "LocationConstraint=us-west-2", nil, "MalformedXML"},
		{"other root element", az, "<Foo/>", nil, "MalformedXML"},
		{"too large", az, "<CreateBucketConfiguration>" + strings.Repeat(" ", 64<<10) + "</CreateBucketConfiguration>", nil, "MaxMessageLengthExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DirectoryBucketConfig(strings.NewReader(tt.body), tt.in)
			if tt.wantCode != "" {
				var e *s3err.Error
				if !errors.As(err, &e) || e.Code != tt.wantCode || e.Status != 400 {
					t.Fatalf("error %v, want 400 %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("body %s lacks %s", got, w)
				}
			}
		})
	}
}
