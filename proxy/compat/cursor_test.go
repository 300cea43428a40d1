package compat

import (
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []cursor{
		{},
		{Token: "", Skip: 0, PageSize: 1},
		{Token: "opaque/+=token\x00with bytes", Skip: 999, PageSize: 1000},
		{Token: strings.Repeat("t", 1024), Skip: 3, PageSize: 7},
	}
	for _, c := range tests {
		t.Run(c.Token, func(t *testing.T) {
			if c.PageSize == 0 {
				c.PageSize = 1000
			}
			m := c.encode()
			if strings.ContainsAny(m[len(MarkerPrefix):], "+/=%& ") {
				t.Errorf("marker %q is not URL-safe", m)
			}
			got, err := decodeCursor(m)
			if err != nil || got != c {
				t.Errorf("decode(%q) = %+v, %v; want %+v", m, got, err, c)
			}
		})
	}
	for _, bad := range []string{"", "s3xp1.", "s3xp1.***", "k0001", cursor{PageSize: 1001}.encode(), cursor{Skip: 11, PageSize: 10}.encode()} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

func TestMarkerCacheBound(t *testing.T) {
	m := newMarkerCache(3)
	for i, k := range []string{"a", "b", "c"} {
		m.put(k, cursor{Skip: i})
	}
	m.get("a") // a is now most recent; b is the oldest
	m.put("d", cursor{Skip: 9})
	if m.len() != 3 {
		t.Fatalf("len %d", m.len())
	}
	if _, ok := m.get("b"); ok {
		t.Error("least recently used entry kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := m.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	m.put("a", cursor{Skip: 7})
	if c, _ := m.get("a"); c.Skip != 7 || m.len() != 3 {
		t.Errorf("update: %+v len %d", c, m.len())
	}
}
