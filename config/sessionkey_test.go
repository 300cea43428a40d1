package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestParseSessionKey(t *testing.T) {
	k := bytes.Repeat([]byte{0xfb, 0xff}, 16)
	tests := []struct {
		name, in string
		want     []byte
	}{
		{"hex", hex.EncodeToString(k), k},
		{"hex upper", strings.ToUpper(hex.EncodeToString(k)), k},
		{"base64", base64.StdEncoding.EncodeToString(k), k},
		{"base64url", base64.URLEncoding.EncodeToString(k), k},
		{"base64 raw", base64.RawStdEncoding.EncodeToString(k), k},
		{"spaces around", " " + base64.StdEncoding.EncodeToString(k) + "\n", k},
		{"long", base64.StdEncoding.EncodeToString(append(k, k...)), append(k, k...)},
		{"short base64", base64.StdEncoding.EncodeToString(k[:31]), nil},
		{"short hex (also valid base64)", hex.EncodeToString(k[:31]), nil},
		{"odd hex", hex.EncodeToString(k) + "a", nil},
		{"not encoded", "correct horse battery staple, not base64!", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSessionKey(tt.in)
			if (err != nil) != (tt.want == nil) || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x %v, want %x", got, err, tt.want)
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

const (
	skA = "c2Vzc2lvbi1rZXktZm9yLXRoZS1leGFtcGxlLTMyYnl0ZXM="
	skB = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// TestLocalSessionsConfig: keys are validated (line-precise, never shown),
// decoded in order, and the deprecated auth.local_session_ttl still sets
// the TTL.
func TestLocalSessionsConfig(t *testing.T) {
	const region = "upstream: {region: us-west-2}\n"
	secret := "c2hvcnQta2V5" // base64 of 9 bytes
	tests := []struct {
		name string
		src  string
		ttl  time.Duration
		keys int
		errs []string
	}{
		{"default", region, 5 * time.Minute, 0, nil},
		{"keys and ttl", region + "auth:\n  local_sessions:\n    keys: [" + skA + ", \"${SK}\"]\n    ttl: 2m\n", 2 * time.Minute, 2, nil},
		{"deprecated ttl", region + "auth:\n  local_session_ttl: 90s\n", 90 * time.Second, 0, nil},
		{"both ttls", region + "auth:\n  local_session_ttl: 90s\n  local_sessions: {ttl: 2m}\n", 0, 0, []string{
			"c.yaml:3: auth.local_session_ttl: deprecated spelling of auth.local_sessions.ttl, which is set too: keep only auth.local_sessions.ttl"}},
		{"deprecated ttl zero", region + "auth:\n  local_session_ttl: 0s\n", 0, 0, []string{"c.yaml:3: auth.local_session_ttl: must be > 0"}},
		{"ttl zero", region + "auth:\n  local_sessions:\n    ttl: 0s\n", 0, 0, []string{"c.yaml:4: auth.local_sessions.ttl: must be > 0"}},
		{"bad keys", region + "auth:\n  local_sessions:\n    keys:\n      - " + secret + "\n      - " + skB + "\n      - \"" + skB + "\"\n      - ${SHORT}\n", 0, 0, []string{
			"c.yaml:5: auth.local_sessions.keys[0]: decodes to 9 bytes, want at least 32 (openssl rand -base64 32)",
			"c.yaml:7: auth.local_sessions.keys[2]: the same key as auth.local_sessions.keys[1]",
			"c.yaml:8: auth.local_sessions.keys[3]: decodes to 9 bytes, want at least 32 (openssl rand -base64 32)"}},
		{"keys not a list", region + "auth:\n  local_sessions: {keys: " + skA + "}\n", 0, 0, []string{
			"c.yaml:3: auth.local_sessions.keys: must be a list, not a scalar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tt.src), envMap(map[string]string{"SK": skB, "SHORT": secret}))
			if tt.errs != nil {
				if err == nil {
					t.Fatal("no error")
				}
				var got []string
				for _, fe := range err.(Errors) {
					got = append(got, fe.Error())
				}
				if strings.Join(got, "\n") != strings.Join(tt.errs, "\n") {
					t.Fatalf("errors\n got %q\nwant %q", got, tt.errs)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keys, err := cfg.Auth.LocalSessions.SessionKeys()
			if err != nil || len(keys) != tt.keys || cfg.Auth.LocalSessions.TTL != tt.ttl {
				t.Fatalf("keys %d (%v), ttl %v; want %d keys, ttl %v", len(keys), err, cfg.Auth.LocalSessions.TTL, tt.keys, tt.ttl)
			}
			if tt.keys == 2 {
				if want, _ := hex.DecodeString(skB); !bytes.Equal(keys[1], want) {
					t.Errorf("keys[1] = %x, want %x (order kept)", keys[1], want)
				}
			}
		})
	}
}
