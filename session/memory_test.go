package session

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// constCreator returns sessions whose strings are shared (tokenLen 0) or
// freshly allocated per call with realistic sizes.
type constCreator struct{ tokenLen int }

func (c constCreator) CreateSession(ctx context.Context, bucket string, mode Mode) (Credentials, error) {
	if c.tokenLen == 0 {
		return Credentials{AccessKeyID: "AK", SecretAccessKey: "S", SessionToken: "T", Expiration: time.Now().Add(5 * time.Minute)}, nil
	}
	return Credentials{
		AccessKeyID:     strings.Clone("ASIAEXAMPLEEXAMPLE12"),
		SecretAccessKey: strings.Clone(strings.Repeat("s", 40)),
		SessionToken:    strings.Repeat("t", c.tokenLen),
		Expiration:      time.Now().Add(5 * time.Minute),
	}, nil
}

// heapPerEntry fills a Cache with n keys and returns the live heap growth
// per entry.
func heapPerEntry(t *testing.T, n int, cr Creator) float64 {
	t.Helper()
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{Identity: "0123456789abcdef0123456789abcdef", Bucket: fmt.Sprintf("bucket-%05d--usw2-az1--x-s3", i), Mode: ReadWrite}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New(cr, Options{CreateRate: 1e9, CreateBurst: n})
	for _, k := range keys {
		if _, _, err := c.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != n {
		t.Fatalf("Len = %d, want %d", c.Len(), n)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	c.Close()
	runtime.KeepAlive(keys)
	return per
}

// TestMemoryPerEntry measures the heap cost of one cached session over 10k
// entries: the cache's own structures (entry, LRU element, map slot), then
// with realistic credential strings (20 B key id, 40 B secret, 1 KiB token).
// Key strings belong to the caller and are not counted.
func TestMemoryPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates")
	}
	const n = 10000
	overhead := heapPerEntry(t, n, constCreator{})
	withCreds := heapPerEntry(t, n, constCreator{tokenLen: 1024})
	t.Logf("per entry: %.0f B cache overhead, %.0f B with a 1 KiB session token", overhead, withCreds)
	if overhead > 512 {
		t.Errorf("cache overhead %.0f B per entry, want <= 512", overhead)
	}
	if withCreds > overhead+1024+40+20+256 {
		t.Errorf("%.0f B per entry with credentials, more than overhead plus the strings", withCreds)
	}
}
