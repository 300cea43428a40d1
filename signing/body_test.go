package signing

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// shortReader returns its data then io.ErrUnexpectedEOF, as a net/http body
// does when the client hangs up early.
type shortReader struct{ r io.Reader }

func (s shortReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func TestCheckReader(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 100))
	sum := sha256.Sum256(data)
	wrappers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+eof": iotest.DataErrReader,
	}
	tests := []struct {
		name    string
		body    []byte
		length  int64
		want    []byte
		wantErr error
	}{
		{"match", data, int64(len(data)), sum[:], nil},
		{"match unknown length", data, -1, sum[:], nil},
		{"mismatch", data, int64(len(data)), make([]byte, 32), ErrContentSHA256Mismatch},
		{"mismatch unknown length", data, -1, make([]byte, 32), ErrContentSHA256Mismatch},
		{"short body", data[:500], int64(len(data)), sum[:], ErrIncompleteBody},
	}
	for _, tt := range tests {
		for wname, wrap := range wrappers {
			t.Run(tt.name+"/"+wname, func(t *testing.T) {
				cr := newCheckReader(io.NopCloser(wrap(bytes.NewReader(tt.body))), sha256.New(), tt.want, tt.length, ErrContentSHA256Mismatch)
				got, err := io.ReadAll(cr)
				if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && !bytes.Equal(got, tt.body) {
					t.Fatalf("got %d bytes, want %d", len(got), len(tt.body))
				}
				if tt.wantErr != nil && len(got) >= len(tt.body) {
					t.Fatalf("consumer received all %d bytes despite %v", len(got), err)
				}
				if _, err2 := cr.Read(make([]byte, 8)); tt.wantErr != nil && !errors.Is(err2, tt.wantErr) {
					t.Errorf("error not sticky: %v", err2)
				}
			})
		}
	}
	t.Run("tiny reads", func(t *testing.T) {
		for _, size := range []int{1, 2, 3} {
			cr := newCheckReader(io.NopCloser(iotest.OneByteReader(bytes.NewReader(data))), sha256.New(), sum[:], -1, ErrContentSHA256Mismatch)
			var out []byte
			buf := make([]byte, size)
			for {
				n, err := cr.Read(buf)
				out = append(out, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("buf %d: got %d bytes", size, len(out))
			}
		}
	})
	t.Run("client hang-up", func(t *testing.T) {
		cr := newCheckReader(io.NopCloser(shortReader{bytes.NewReader(data[:10])}), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
		if _, err := io.ReadAll(cr); !errors.Is(err, ErrIncompleteBody) {
			t.Fatalf("err = %v, want ErrIncompleteBody", err)
		}
	})
}

func TestMD5Reader(t *testing.T) {
	data := []byte("The quick brown fox")
	sum := md5.Sum(data)
	good := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		name, md5 string
		body      string
		newErr    error
		readErr   error
	}{
		{"match", good, string(data), nil, nil},
		{"mismatch", good, "The quick brown fax", nil, ErrBadDigest},
		{"not base64", "!!!", string(data), ErrInvalidDigest, nil},
		{"wrong length", base64.StdEncoding.EncodeToString([]byte("short")), string(data), ErrInvalidDigest, nil},
		{"empty value", "", string(data), ErrInvalidDigest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := NewMD5Reader(io.NopCloser(strings.NewReader(tt.body)), tt.md5)
			if !errors.Is(err, tt.newErr) || (tt.newErr == nil) != (err == nil) {
				t.Fatalf("NewMD5Reader err = %v, want %v", err, tt.newErr)
			}
			if err != nil {
				return
			}
			got, err := io.ReadAll(rc)
			if tt.readErr == nil && (err != nil || string(got) != tt.body) || tt.readErr != nil && !errors.Is(err, tt.readErr) {
				t.Fatalf("read %q, %v; want err %v", got, err, tt.readErr)
			}
		})
	}
}
