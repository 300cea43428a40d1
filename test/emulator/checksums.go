package emulator

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"strings"
)

// Checksum algorithms S3 verifies on upload (protocol notes 7). Values are
// base64 of the big-endian digest, as in the x-amz-checksum-* headers.
const (
	algCRC32     = "CRC32"
	algCRC32C    = "CRC32C"
	algCRC64NVME = "CRC64NVME"
	algSHA1      = "SHA1"
	algSHA256    = "SHA256"
)

var checksumAlgs = []string{algCRC32, algCRC32C, algCRC64NVME, algSHA1, algSHA256}

// crc64NVMETable is CRC-64/NVME: polynomial 0xad93d23594c93659, reflected
// form 0x9a6c9329ac4bc9b5 as hash/crc64 expects (the SDK uses the same
// constant in service/internal/checksum/algorithms.go).
var (
	crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)
	crc32cTable    = crc32.MakeTable(crc32.Castagnoli)
)

// newChecksum returns a hash for a checksum algorithm name (any case), or nil.
func newChecksum(alg string) hash.Hash {
	switch strings.ToUpper(alg) {
	case algCRC32:
		return crc32.NewIEEE()
	case algCRC32C:
		return crc32.New(crc32cTable)
	case algCRC64NVME:
		return crc64.New(crc64NVMETable)
	case algSHA1:
		return sha1.New()
	case algSHA256:
		return sha256.New()
	}
	return nil
}

func normAlg(alg string) string {
	u := strings.ToUpper(alg)
	for _, a := range checksumAlgs {
		if a == u {
			return a
		}
	}
	return ""
}

// checksumHeader is the header carrying alg's value, lowercase.
func checksumHeader(alg string) string { return "x-amz-checksum-" + strings.ToLower(alg) }

// validChecksumValue reports whether v is base64 of a digest of alg's size.
func validChecksumValue(alg, v string) bool {
	raw, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(raw) == newChecksum(alg).Size()
}

func sumBase64(h hash.Hash) string { return base64.StdEncoding.EncodeToString(h.Sum(nil)) }

// checksumOf is a stored checksum: algorithm, base64 value (with a "-N"
// suffix for composite multipart checksums) and type.
type checksumOf struct {
	alg   string // "" = none
	value string
	typ   string // FULL_OBJECT | COMPOSITE
}

// compositeChecksum is S3's checksum-of-checksums for a multipart upload:
// the algorithm over the concatenated raw part digests, then "-<parts>".
func compositeChecksum(alg string, partValues []string) (string, bool) {
	h := newChecksum(alg)
	for _, v := range partValues {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", false
		}
		h.Write(raw)
	}
	return sumBase64(h) + "-" + strconv.Itoa(len(partValues)), true
}
