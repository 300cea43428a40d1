package e2e

import (
	"bytes"
	"slices"
	"sort"
	"testing"
)

// specialKeys must round-trip byte for byte through the proxy: decoded once
// from the client's raw URI, re-encoded once for the Zonal endpoint.
var specialKeys = []string{
	"keys/with space",
	"keys/plus+sign",
	"keys/a%2Fb-literal-percent",
	"keys//double//slash",
	"keys/unicode-€-été-日本",
	"keys/tilde~user",
	"keys/trailing/",
	"keys/q?mark&amp=x#hash",
	"keys/paren(1)!*'",
}

func TestSpecialKeys(t *testing.T) {
	e := newEnv(t, envConfig{})
	clients := []struct {
		name string
		c    client
	}{
		{"raw-net-http", &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}},
		{"aws-sdk-go-v2", newSDKClient(e.srv.URL, rwKey, rwSecret)},
		{"minio-go", newMinioClient(t, e.srv.URL, rwKey, rwSecret)},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			for i, key := range specialKeys {
				body := []byte(cl.name + " " + key)
				cl.c.put(t, aliasData, key, body)
				if got := cl.c.get(t, aliasData, key); !bytes.Equal(got, body) {
					t.Fatalf("key %q (#%d): got %q, want %q", key, i, got, body)
				}
			}
			want := append([]string(nil), specialKeys...)
			sort.Strings(want)
			if got := cl.c.list(t, aliasData, "keys/"); !slices.Equal(got, want) {
				t.Fatalf("listed keys:\n got %q\nwant %q", got, want)
			}
			for _, key := range specialKeys {
				cl.c.del(t, aliasData, key)
			}
		})
	}
}
