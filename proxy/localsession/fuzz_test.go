package localsession

import (
	"bytes"
	"testing"
)

// fuzzIssuer has one fixed key, so that the committed corpus (seeded from
// tokens it sealed) stays meaningful from run to run.
func fuzzIssuer(t testing.TB) (*Issuer, Credentials) {
	s, err := New(Options{Keys: [][]byte{key(7)}, Identities: testIDs(), Rand: bytes.NewReader(bytes.Repeat([]byte{9}, 64))})
	if err != nil {
		t.Fatal(err)
	}
	return s, issue(t, s, "LEGACYKEY1", ReadWrite)
}

// FuzzOpenToken feeds arbitrary access key ids and tokens to Open: it must
// never panic, and nothing but the one issued pair may open.
func FuzzOpenToken(f *testing.F) {
	_, c := fuzzIssuer(f)
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add(c.AccessKeyID, "")
	f.Add("S3XLAAAAAAAAAAAAAAAA", c.SessionToken)
	f.Add(c.AccessKeyID, c.SessionToken[:len(c.SessionToken)/2])
	f.Add(c.AccessKeyID, "AQ"+c.SessionToken[2:])
	f.Fuzz(func(t *testing.T, akid, token string) {
		s, c := fuzzIssuer(t)
		sess, secret, err := s.Open(akid, token)
		if err != nil {
			return
		}
		if akid != c.AccessKeyID || token != c.SessionToken || secret != c.SecretAccessKey || sess.Bucket != testBucket {
			t.Fatalf("opened a pair that was never issued: %q %q -> %+v", akid, token, sess)
		}
	})
}

// FuzzParseSealed: the plaintext parser never panics, and what it accepts
// encodes back to exactly its input (one encoding per session).
func FuzzParseSealed(f *testing.F) {
	good := (&sealed{expires: t0, mode: ReadWrite, issuer: "LEGACYKEY1", bucket: testBucket}).appendPlaintext(nil)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pt []byte) {
		s, ok := parseSealed(pt)
		if !ok {
			return
		}
		if back := s.appendPlaintext(nil); !bytes.Equal(back, pt) {
			t.Fatalf("parse(%x) = %+v encodes as %x", pt, s, back)
		}
	})
}
