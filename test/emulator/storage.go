package emulator

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// blobStore keeps object and part bytes. Blobs are immutable once written.
// Implementations are safe for concurrent use.
type blobStore interface {
	// put consumes r to EOF. A read error (including a verification error
	// raised at EOF by a checking reader) leaves nothing behind.
	put(r io.Reader, sizeHint int64) (blob, error)
	// concat joins blobs in order into a new blob.
	concat(parts []blob) (blob, error)
	// slice copies n bytes at off of b into a new blob.
	slice(b blob, off, n int64) (blob, error)
}

// blob is stored bytes. open must be called while the owner's lock is held
// (release is too), so a disk file is never removed between lookup and open.
type blob interface {
	size() int64
	open() (readerAtCloser, error)
	release()
}

type readerAtCloser interface {
	io.ReaderAt
	io.Closer
}

func newStore(kind, dir string) (blobStore, error) {
	switch kind {
	case "", "memory":
		return memStore{}, nil
	case "discard":
		return discardStore{}, nil
	case "disk":
		if dir == "" {
			return nil, fmt.Errorf("emulator: storage disk needs a data dir")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("emulator: data dir: %w", err)
		}
		return diskStore{dir: dir}, nil
	}
	return nil, fmt.Errorf("emulator: unknown storage %q (memory, disk, discard)", kind)
}

// memStore keeps bytes in memory.
type memStore struct{}

// memBlob is a pointer type so blobs compare by identity.
type memBlob struct{ b []byte }

type nopCloserAt struct{ io.ReaderAt }

func (nopCloserAt) Close() error { return nil }

func (m *memBlob) size() int64                   { return int64(len(m.b)) }
func (m *memBlob) open() (readerAtCloser, error) { return nopCloserAt{bytes.NewReader(m.b)}, nil }
func (m *memBlob) release()                      {}

const maxPrealloc = 64 << 20

func (memStore) put(r io.Reader, hint int64) (blob, error) {
	var buf bytes.Buffer
	if hint > 0 {
		buf.Grow(int(min(hint, maxPrealloc)))
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return &memBlob{buf.Bytes()}, nil
}

func (memStore) concat(parts []blob) (blob, error) {
	var n int64
	for _, p := range parts {
		n += p.size()
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p.(*memBlob).b...)
	}
	return &memBlob{out}, nil
}

func (memStore) slice(b blob, off, n int64) (blob, error) {
	return &memBlob{b.(*memBlob).b[off : off+n : off+n]}, nil
}

// discardStore keeps only sizes; reads return patternByte(offset).
type discardStore struct{}

type discardBlob struct{ n int64 }

func (b *discardBlob) size() int64                   { return b.n }
func (b *discardBlob) open() (readerAtCloser, error) { return nopCloserAt{patternReaderAt{}}, nil }
func (b *discardBlob) release()                      {}

func (discardStore) put(r io.Reader, _ int64) (blob, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, err
	}
	return &discardBlob{n}, nil
}

func (discardStore) concat(parts []blob) (blob, error) {
	var n int64
	for _, p := range parts {
		n += p.size()
	}
	return &discardBlob{n}, nil
}

func (discardStore) slice(_ blob, _, n int64) (blob, error) { return &discardBlob{n}, nil }

// PatternByte is the byte at offset off of every object read back from
// discard storage: the offset modulo 251 (a prime, so the pattern does not
// line up with power-of-two buffer sizes).
func PatternByte(off int64) byte { return byte(off % 251) }

var patternBlock = func() []byte {
	b := make([]byte, 251*261) // about 64 KiB, whole periods
	for i := range b {
		b[i] = PatternByte(int64(i))
	}
	return b
}()

type patternReaderAt struct{}

func (patternReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		start := (off + int64(n)) % 251
		n += copy(p[n:], patternBlock[start:])
	}
	return n, nil
}

// diskStore keeps each blob in its own file under dir.
type diskStore struct{ dir string }

type diskBlob struct {
	path string
	n    int64
}

func (b *diskBlob) size() int64 { return b.n }
func (b *diskBlob) open() (readerAtCloser, error) {
	return os.Open(b.path)
}
func (b *diskBlob) release() { _ = os.Remove(b.path) }

func (s diskStore) write(fill func(w io.Writer) error) (blob, error) {
	f, err := os.CreateTemp(s.dir, "blob-*")
	if err != nil {
		return nil, fmt.Errorf("emulator: create blob: %w", err)
	}
	cw := &countWriter{w: f}
	err = fill(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &diskBlob{path: filepath.Clean(f.Name()), n: cw.n}, nil
}

func (s diskStore) put(r io.Reader, _ int64) (blob, error) {
	return s.write(func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

func (s diskStore) concat(parts []blob) (blob, error) {
	return s.write(func(w io.Writer) error {
		for _, p := range parts {
			if err := copyRange(w, p, 0, p.size()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s diskStore) slice(b blob, off, n int64) (blob, error) {
	return s.write(func(w io.Writer) error { return copyRange(w, b, off, n) })
}

// copyRange copies n bytes at off of b to w. For disk blobs the file must
// still exist: callers copy only blobs owned by a live upload or object.
func copyRange(w io.Writer, b blob, off, n int64) error {
	rd, err := b.open()
	if err != nil {
		return err
	}
	defer rd.Close()
	_, err = io.Copy(w, io.NewSectionReader(rd, off, n))
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
