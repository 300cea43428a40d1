package signing

import (
	"bytes"
	"crypto/md5"
	"io"
	"testing"
	"testing/iotest"
)

// TestDigestReader: the digest of what was read, whether hashed inline
// (small body, short reads) or through the hash pipe (large body, long
// reads), final before the last byte is handed on when the length is
// known, and absent after a short or failed body.
func TestDigestReader(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: piped
	small := []byte("small body")
	tests := []struct {
		name   string
		data   []byte
		length int64
		wrap   func(io.Reader) io.Reader
		ok     bool
	}{
		{"large, piped, known length", big, int64(len(big)), nil, true},
		{"large, piped, unknown length", big, -1, nil, true},
		{"one-byte reads (inline)", big[:150<<10], 150 << 10, iotest.OneByteReader, true},
		{"small", small, int64(len(small)), nil, true},
		{"empty", nil, 0, nil, true},
		{"shorter than declared", small, int64(len(small)) + 1, nil, false},
		{"read error", big, -1, iotest.TimeoutReader, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tt.data)
			if tt.wrap != nil {
				r = tt.wrap(r)
			}
			d := NewDigestReader(io.NopCloser(r), md5.New(), tt.length)
			var got []byte
			buf := make([]byte, 32<<10)
			for {
				n, err := d.Read(buf)
				if tt.ok && tt.length >= 0 && len(got)+n == len(tt.data) && n > 0 {
					if _, ok := d.Sum(); !ok {
						t.Error("digest not final when the last byte is handed on")
					}
				}
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			sum, ok := d.Sum()
			want := md5.Sum(tt.data)
			if ok != tt.ok || ok && !bytes.Equal(sum, want[:]) {
				t.Errorf("Sum() = %x, %v; want %x, %v", sum, ok, want, tt.ok)
			}
			if tt.ok && !bytes.Equal(got, tt.data) {
				t.Errorf("read %d bytes, want the %d unchanged", len(got), len(tt.data))
			}
		})
	}
}
