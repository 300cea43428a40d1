package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("upstream: {region: us-west-2}\n"), 0o600)
	os.WriteFile(bad, []byte("upstream:\n  region: us-west-2\nsessions:\n  create_rate: 0\n  bogus: 1\n"), 0o600)
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHas  []string
		stderrLine int
	}{
		{"ok", []string{"--config", good}, 0, "ok\n", nil, 0},
		{"positional", []string{good}, 0, "ok\n", nil, 0},
		{"errors", []string{"--config", bad}, 1, "", []string{
			bad + ":4: sessions.create_rate: must be > 0", bad + ":5: sessions.bogus: unknown key"}, 2},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, 1, "", []string{"no such file"}, 1},
		{"no args", nil, 2, "", []string{"usage"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"check"}, tt.args...), &out, &errb)
			if code != tt.code || out.String() != tt.stdout {
				t.Fatalf("code %d stdout %q stderr %q; want code %d stdout %q", code, out.String(), errb.String(), tt.code, tt.stdout)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr %q lacks %q", errb.String(), s)
				}
			}
			if n := strings.Count(errb.String(), "\n"); tt.stderrLine >= 0 && n != tt.stderrLine {
				t.Errorf("stderr has %d lines, want %d: %q", n, tt.stderrLine, errb.String())
			}
		})
	}
}
