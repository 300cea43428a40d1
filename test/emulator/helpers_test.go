package emulator

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	testAKID   = "AKIDEMULATORTEST"
	testSecret = "emulatorsecretkey/abcdefghijklmnopqrstu"
	testRegion = "us-west-2"
	testBucket = "conformance--usw2-az1--x-s3"
	otherBkt   = "other--usw2-az1--x-s3"
	gpBucket   = "plain-bucket"
)

func startTLS(t *testing.T, mod ...func(*Options)) *Emulator {
	t.Helper()
	opts := Options{
		Credentials: map[string]string{testAKID: testSecret},
		Buckets:     []string{testBucket, otherBkt, gpBucket},
		TLS:         true,
	}
	for _, m := range mod {
		m(&opts)
	}
	return startChecked(t, opts)
}

// startChecked starts an emulator and fails the test if any request hit
// the panic recovery (InternalError).
func startChecked(t *testing.T, opts Options) *Emulator {
	t.Helper()
	e := Start(t, opts)
	t.Cleanup(func() {
		if n := e.Stats().Rejections["InternalError"]; n != 0 {
			t.Errorf("emulator answered %d InternalError (a recovered panic)", n)
		}
	})
	return e
}

// sdkClient is the official S3 client in its native S3 Express mode: no
// custom endpoint, so it resolves Zonal hosts and calls CreateSession
// itself; only the dialer is pointed at the emulator.
func sdkClient(t *testing.T, e *Emulator, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	tr := e.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		HTTPClient:  &http.Client{Transport: tr},
		// What config.LoadDefaultConfig sets: CRC32 by default, response
		// checksums validated when present.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return s3.NewFromConfig(cfg, optFns...)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
