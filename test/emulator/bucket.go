package emulator

import (
	"hash/maphash"
	"net/http"
	"strings"
	"sync"
	"time"
)

// bucket holds objects and multipart uploads. Its lock is held only for
// map lookups and swaps, never while a body streams.
type bucket struct {
	name      string
	directory bool
	created   time.Time
	seed      maphash.Seed // listing order of directory buckets

	mu      sync.RWMutex
	objects map[string]*object // guarded by mu
	uploads map[string]*upload // guarded by mu; by upload ID
}

func newBucket(name string, now time.Time) *bucket {
	return &bucket{
		name:      name,
		directory: isDirectoryBucket(name),
		created:   now,
		seed:      maphash.MakeSeed(),
		objects:   map[string]*object{},
		uploads:   map[string]*upload{},
	}
}

// object is an immutable stored object; overwrites replace the pointer.
type object struct {
	key      string
	size     int64
	etag     string // quoted
	modified time.Time
	headers  http.Header // Content-Type, Cache-Control, ..., x-amz-meta-*
	checksum checksumOf
	parts    []partMeta // multipart objects only
	data     blob
}

// partMeta describes one part of a completed multipart object.
type partMeta struct {
	size     int64
	checksum string
}

// storedHeaders are the request headers kept with an object and returned
// on GET/HEAD.
var storedHeaders = []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Language", "Expires"}

// objectHeaders extracts the headers to store from a PutObject,
// CreateMultipartUpload or CopyObject (REPLACE) request.
func objectHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range storedHeaders {
		if v := h.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	if ce := h.Get("Content-Encoding"); ce != "" {
		var kept []string
		for _, p := range splitList(ce) {
			if !strings.EqualFold(p, "aws-chunked") {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			out.Set("Content-Encoding", strings.Join(kept, ","))
		}
	}
	for k, v := range h {
		if strings.HasPrefix(k, "X-Amz-Meta-") {
			out[k] = append([]string(nil), v...)
		}
	}
	if out.Get("Content-Type") == "" {
		out.Set("Content-Type", "binary/octet-stream")
	}
	return out
}

// metadataSize is the size S3 counts against its 2 KB user metadata limit.
func metadataSize(h http.Header) int {
	n := 0
	for k, v := range h {
		if strings.HasPrefix(k, "X-Amz-Meta-") {
			n += len(k) - len("X-Amz-Meta-")
			for _, s := range v {
				n += len(s)
			}
		}
	}
	return n
}

func (b *bucket) get(key string) *object {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.objects[key]
}

// swap stores o (nil deletes) under key and releases the replaced blob.
func (b *bucket) swap(key string, o *object) *object {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.objects[key]
	if o == nil {
		delete(b.objects, key)
	} else {
		b.objects[key] = o
	}
	if old != nil && (o == nil || old.data != o.data) {
		old.data.release()
	}
	return old
}

// openObject looks up key and opens its data under the lock.
func (b *bucket) openObject(key string) (*object, readerAtCloser, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	o := b.objects[key]
	if o == nil {
		return nil, nil, nil
	}
	rd, err := o.data.open()
	return o, rd, err
}

// newETag is a random ETag of 32 lowercase hex digits, quoted: S3 Express
// ETags are not MD5 digests (protocol notes 7) but look exactly like them,
// which is what trips legacy clients that check an ETag shaped like an MD5
// (rclone 1.60 against S3 Express: "corrupted on transfer: md5 hash differ").
func newETag() string { return `"` + randString(32, lowerHex) + `"` }
