package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	old := version
	version = "v9.9.9-test"
	defer func() { version = old }()
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"s3xproxy v9.9.9-test\n", "go       go1."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output %q lacks %q", out.String(), want)
		}
	}
	if code := run([]string{"version", "extra"}, &out, &errb); code != 2 {
		t.Errorf("extra args: exit %d, want 2", code)
	}
}
