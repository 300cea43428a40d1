package main

import (
	"bytes"
	"testing"

	"github.com/rs/zerolog"
)

// TestSessionKeysKeepEphemeral: the random key a process made while no
// keys were configured still opens (never seals) after a reload brings
// configured keys, so the sessions it sealed live until they expire.
func TestSessionKeysKeepEphemeral(t *testing.T) {
	a := &app{}
	none := parseConfig(t, "upstream: {region: us-west-2}")
	first := a.sessionKeys(none, nil, zerolog.Nop())
	if len(first) != 1 || len(first[0]) < 32 {
		t.Fatalf("no configured keys: got %d keys, want one random key", len(first))
	}
	if again := a.sessionKeys(none, nil, zerolog.Nop()); !bytes.Equal(again[0], first[0]) {
		t.Fatal("a reload without keys made a new random key: every session would end")
	}
	configured := [][]byte{bytes.Repeat([]byte{1}, 32)}
	got := a.sessionKeys(none, configured, zerolog.Nop())
	if len(got) != 2 || !bytes.Equal(got[0], configured[0]) || !bytes.Equal(got[1], first[0]) {
		t.Fatalf("configured keys after a random one: got %d keys, want [configured, random]", len(got))
	}
	if len(configured) != 1 {
		t.Fatal("the configured list was modified")
	}
	if got := (&app{}).sessionKeys(none, configured, zerolog.Nop()); len(got) != 1 {
		t.Fatalf("a process that never made a random key got %d keys, want only the configured one", len(got))
	}
}
