package signing

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
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

// readChecked reads r to its end with reads of size bytes, as the
// transport's copy does, and returns the bytes received and the last
// Read's count and error.
func readChecked(r io.Reader, size int) (got []byte, lastN int, err error) {
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, n, err
		}
	}
}

// patterned returns n bytes that do not repeat with any read size.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// TestCheckReaderLarge reads large bodies with the read sizes of a byte-wise
// consumer, of net/http's body copy and of larger ones, hashing on the
// reading goroutine or (async from 1) handing every read to another one,
// through the default ring or one smaller than the reads. A
// passing check delivers every byte then io.EOF; a failing one returns no
// bytes with its error, having delivered one byte less than the body at
// most, and sticks. Each case runs in a synctest bubble, which fails if a
// goroutine outlives it.
func TestCheckReaderLarge(t *testing.T) {
	shaReader := func(want []byte, length int64) func(io.Reader) *checkReader {
		return func(r io.Reader) *checkReader {
			return newCheckReader(io.NopCloser(r), sha256.New(), want, length, ErrContentSHA256Mismatch)
		}
	}
	md5Reader := func(of []byte) func(io.Reader) *checkReader {
		return func(r io.Reader) *checkReader {
			rc, err := NewMD5Reader(io.NopCloser(r), md5Base64(of))
			if err != nil {
				panic(err)
			}
			return rc.(*checkReader)
		}
	}
	type testCase struct {
		name    string
		body    []byte
		open    func(io.Reader) *checkReader
		limit   int     // bytes the consumer may receive; on success exactly these
		wantErr []error // any of them; nil for success
	}
	cases := func(data []byte) []testCase {
		n := len(data)
		sum := sha256.Sum256(data)
		long := append(bytes.Clone(data), "tail"...)
		sumLong := sha256.Sum256(long)
		wrong := sha256.Sum256(data[1:])
		return []testCase{
			{"sha256 match", data, shaReader(sum[:], int64(n)), n, nil},
			{"sha256 match unknown length", data, shaReader(sum[:], -1), n, nil},
			{"sha256 mismatch", data, shaReader(wrong[:], int64(n)), n - 1, []error{ErrContentSHA256Mismatch}},
			{"sha256 mismatch unknown length", data, shaReader(wrong[:], -1), n - 1, []error{ErrContentSHA256Mismatch}},
			{"shorter than declared", data, shaReader(sum[:], int64(n)+1), n - 1, []error{ErrIncompleteBody}},
			// A read that ends exactly at the declared length checks the
			// digest there; one that crosses it fails the length.
			{"longer than declared", long, shaReader(sumLong[:], int64(n)), n - 1, []error{ErrIncompleteBody, ErrContentSHA256Mismatch}},
			{"md5 match", data, md5Reader(data), n, nil},
			{"md5 mismatch", data, md5Reader(data[1:]), n - 1, []error{ErrBadDigest}},
		}
	}
	large := patterned(2<<20 + 3) // not a multiple of any read size
	sources := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{{"full reads", func(r io.Reader) io.Reader { return r }}, {"half reads", iotest.HalfReader}}
	for _, size := range []int{1, 7 << 10, 32 << 10, 1 << 20} {
		data := large
		if size == 1 {
			data = large[:24<<10+3] // 2M one-byte reads are too slow under -race
		}
		for _, mode := range []struct {
			read  int
			body  int64
			ring  int
			start int64
		}{{asyncMinRead, asyncMinBody, 0, 0}, {1, 0, 0, 1}, {1, 0, 1000, 1}, {1, 0, 1000, 300}} {
			for _, src := range sources {
				for _, tt := range cases(data) {
					t.Run(fmt.Sprintf("%s/read %d/async from %d ring %d start %d/%s", tt.name, size, mode.read, mode.ring, mode.start, src.name), func(t *testing.T) {
						synctest.Test(t, func(t *testing.T) {
							cr := tt.open(src.wrap(bytes.NewReader(tt.body)))
							cr.asyncRead, cr.asyncBody, cr.ringSize, cr.pipeStart = mode.read, mode.body, mode.ring, mode.start
							got, lastN, err := readChecked(cr, size)
							if !bytes.HasPrefix(tt.body, got) {
								t.Fatalf("received %d bytes that are not a prefix of the body", len(got))
							}
							if tt.wantErr == nil {
								if err != io.EOF || len(got) != tt.limit {
									t.Fatalf("received %d bytes, %v; want %d, io.EOF", len(got), err, tt.limit)
								}
								if n, err := cr.Read(make([]byte, 8)); n != 0 || err != io.EOF {
									t.Fatalf("Read after EOF: %d, %v", n, err)
								}
								return
							}
							if !isAny(err, tt.wantErr) || lastN != 0 || len(got) > tt.limit {
								t.Fatalf("received %d bytes, last Read %d, %v; want at most %d, then 0 and %v", len(got), lastN, err, tt.limit, tt.wantErr)
							}
							if n, err2 := cr.Read(make([]byte, 8)); n != 0 || err2 != err {
								t.Fatalf("error not sticky: %d, %v", n, err2)
							}
						})
					})
				}
			}
		}
	}
}

func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// gatedHash is a hash whose Write waits for gate to be closed.
type gatedHash struct {
	hash.Hash
	gate <-chan struct{}
}

func (h gatedHash) Write(p []byte) (int, error) {
	<-h.gate
	return h.Hash.Write(p)
}

// TestCheckReaderAbandon drops readers half way, closed or not, with bytes
// being hashed: no goroutine may be left once the hash goes on (the
// synctest bubble fails if one is), and the pool must not hand out a ring
// still being read (the race detector, and the digests of the readers
// that do finish, would see).
func TestCheckReaderAbandon(t *testing.T) {
	data := patterned(1 << 20)
	sum := sha256.Sum256(data)
	for _, tt := range []struct {
		name  string
		md5   bool
		close bool
	}{{"sha256", false, false}, {"sha256 closed", false, true}, {"md5", true, false}, {"md5 closed", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cr *checkReader
				if tt.md5 {
					rc, err := NewMD5Reader(io.NopCloser(bytes.NewReader(data)), md5Base64(data))
					if err != nil {
						t.Fatal(err)
					}
					cr = rc.(*checkReader)
				} else {
					cr = newCheckReader(io.NopCloser(bytes.NewReader(data)), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
				}
				cr.asyncBody = 0 // the MD5 reader's length is unknown: pipe from the first read
				cr.pipeStart = 1 // and start its worker on the first write
				gate := make(chan struct{})
				cr.h = gatedHash{cr.h, gate}
				buf := make([]byte, 32<<10)
				for range 3 {
					if _, err := cr.Read(buf); err != nil {
						t.Fatal(err)
					}
				}
				synctest.Wait() // the worker is blocked in Write
				cr.pipe.mu.Lock()
				running := cr.pipe.running
				cr.pipe.mu.Unlock()
				if !running {
					t.Fatal("nothing is being hashed: the test does not cover the case")
				}
				if tt.close {
					cr.Close()
				}
				cr = nil // dropped, as the transport may drop it
				close(gate)
			})
		})
	}
	t.Run("pool reuse", func(t *testing.T) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for range 25 {
					cr := newCheckReader(io.NopCloser(bytes.NewReader(data)), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
					buf := make([]byte, 8<<10+rng.IntN(64<<10))
					if rng.IntN(2) == 0 { // abandon after a few reads, closed or not
						for range 1 + rng.IntN(8) {
							cr.Read(buf)
						}
						if rng.IntN(2) == 0 {
							cr.Close()
						}
						continue
					}
					if got, _, err := readChecked(cr, len(buf)); err != io.EOF || !bytes.Equal(got, data) {
						t.Errorf("received %d bytes, %v", len(got), err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestCheckReaderSmallInline: small reads, small bodies and bodies read in
// one go are hashed on the reading goroutine, without a handoff or a ring.
func TestCheckReaderSmallInline(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int   // body
		length int64 // declared; -2 for the body's size
		read   int
	}{
		{"4 KiB body", 4 << 10, -2, 32 << 10},
		{"4 KiB body unknown length", 4 << 10, -1, 32 << 10},
		{"12 KiB body in one read", 12 << 10, -2, 32 << 10},
		{"100 KiB body", 100 << 10, -2, 32 << 10},
		{"100 KiB body unknown length", 100 << 10, -1, 32 << 10},
		{"large body in one read", 1 << 20, -2, 2 << 20},
		{"large body in small reads", 1 << 20, -2, asyncMinRead - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := patterned(tt.size)
			sum := sha256.Sum256(data)
			length := tt.length
			if length == -2 {
				length = int64(len(data))
			}
			h := &callerHash{Hash: sha256.New(), id: goid()}
			cr := newCheckReader(io.NopCloser(bytes.NewReader(data)), h, sum[:], length, ErrContentSHA256Mismatch)
			if got, _, err := readChecked(cr, tt.read); err != io.EOF || !bytes.Equal(got, data) {
				t.Fatalf("received %d bytes, %v", len(got), err)
			}
			if h.off.Load() {
				t.Fatal("hashed on another goroutine")
			}
		})
	}
}

// callerHash records whether Write was ever called on a goroutine other
// than id.
type callerHash struct {
	hash.Hash
	id  uint64
	off atomic.Bool
}

func (h *callerHash) Write(p []byte) (int, error) {
	if goid() != h.id {
		h.off.Store(true)
	}
	return h.Hash.Write(p)
}

// goid returns the calling goroutine's id, from its stack trace header
// ("goroutine 7 [running]:").
func goid() uint64 {
	var buf [32]byte
	f := bytes.Fields(buf[:runtime.Stack(buf[:], false)])
	id, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// readSizes records the size of every Read asked of it.
type readSizes struct {
	io.Reader
	sizes []int
}

func (r *readSizes) Read(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return r.Reader.Read(p)
}

// TestCheckReaderReadAhead reads a large body as the HTTP transport does
// (32 KiB reads, exactly Content-Length bytes, no Read for EOF): the body
// must be read from its source pipeReadMax bytes at a time, and the pipe
// must be given back with the last byte.
func TestCheckReaderReadAhead(t *testing.T) {
	data := patterned(2<<20 + 3)
	sum := sha256.Sum256(data)
	src := &readSizes{Reader: bytes.NewReader(data)}
	cr := newCheckReader(io.NopCloser(src), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
	var got bytes.Buffer
	if _, err := io.CopyBuffer(struct{ io.Writer }{&got}, io.LimitReader(struct{ io.Reader }{cr}, int64(len(data))), make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("received %d bytes, not the body", got.Len())
	}
	if len(src.sizes) > len(data)/pipeReadMax+3 || slices.Max(src.sizes) != pipeReadMax {
		t.Errorf("body read in %d reads of at most %d bytes %v; want ~%d reads of %d", len(src.sizes), slices.Max(src.sizes), src.sizes, len(data)/pipeReadMax, pipeReadMax)
	}
	if cr.pipe != nil || len(pipeSlots) != 0 {
		t.Errorf("pipe not released with the last byte (%d slots taken)", len(pipeSlots))
	}
}

// TestHashPipeSlots checks the bound on concurrent pipes: with every slot
// taken a large body is hashed inline, still correctly; a pipe whose reader
// is dropped without release gives its slot back once it is collected.
func TestHashPipeSlots(t *testing.T) {
	data := patterned(1 << 20)
	sum := sha256.Sum256(data)
	for range cap(pipeSlots) {
		pipeSlots <- struct{}{}
	}
	cr := newCheckReader(io.NopCloser(bytes.NewReader(data)), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
	got, _, err := readChecked(cr, 32<<10)
	for range cap(pipeSlots) {
		<-pipeSlots
	}
	if err != io.EOF || !bytes.Equal(got, data) {
		t.Fatalf("with no free slot: %d bytes, %v; want the body and io.EOF", len(got), err)
	}

	// A released pipe's cleanup must not free a slot again later: after a
	// collection the slot a new pipe holds is still taken.
	released := newHashPipe(sha256.New(), 1000, 1)
	released.flush()
	released.release()
	released = nil
	held := newHashPipe(sha256.New(), 1000, 1)
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if len(pipeSlots) != 1 {
		t.Fatalf("%d slots taken after a release and a collection; want the 1 held", len(pipeSlots))
	}
	held.flush()
	held.release()

	p := newHashPipe(sha256.New(), 1000, 1)
	if p == nil || len(pipeSlots) != 1 {
		t.Fatalf("newHashPipe with free slots: %v, %d slots taken", p, len(pipeSlots))
	}
	if n, err := p.fill(bytes.NewReader(data[:10]), 10); n != 10 || err != nil {
		t.Fatalf("fill: %d, %v", n, err)
	}
	p.flush()
	p = nil // dropped without release
	deadline := time.Now().Add(10 * time.Second)
	for len(pipeSlots) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("slot of a dropped pipe never freed")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
