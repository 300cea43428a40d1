//go:build bench

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary serve as the bare hop: the harness
// re-executes its own executable with --bare-hop, which under go test is
// this binary.
func TestMain(m *testing.M) {
	if len(os.Args) >= 4 && os.Args[1] == "--bare-hop" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestHarnessSmoke runs the whole harness with tiny sizes against a freshly
// built s3xproxy and checks that every scenario produced figures without
// request errors. It asserts nothing about timing. Behind the bench build
// tag because it builds the binary and starts several processes:
//
//	go test -tags bench -run Smoke ./test/bench
func TestHarnessSmoke(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "bench.json")
	args := []string{"--quick", "--json", jsonFile, "--md", filepath.Join(dir, "B.md"),
		"--chart", filepath.Join(dir, "c.svg"), "--large-size", "4MiB", "--large-conc", "1,2",
		"--small-window", "100ms", "--small-conc", "1,4", "--sweep", "4KiB,1MiB",
		"--sweep-window", "100ms", "--session-ttl", "3s", "--refresh-before", "1s",
		"--rollover-duration", "2s", "--rollover-conc", "4", "--buckets", "20",
		"--micro-benchtime", "100x"}
	if testing.Short() {
		args = append(args, "--only", "large,small,sweep")
	}
	cfg, err := parseFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(cfg); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Notes {
		t.Errorf("note: %s", n)
	}
	if len(res.Large) == 0 || len(res.Small) == 0 || len(res.Sweep) == 0 {
		t.Fatalf("missing figures: %d large, %d small, %d sweep cells", len(res.Large), len(res.Small), len(res.Sweep))
	}
	for _, c := range res.Large {
		if e := cellErrors(c.Paths); e != "" {
			t.Errorf("large %s %s c=%d: %s", c.Op, c.Payload, c.Conc, e)
		}
	}
	for _, c := range res.Small {
		if e := cellErrors(c.Paths); e != "" {
			t.Errorf("small %s c=%d: %s", c.Op, c.Conc, e)
		}
	}
	if !testing.Short() {
		if res.Rollover == nil || res.Rollover.Errors > 0 || res.Rollover.Ops == 0 {
			t.Errorf("rollover: %+v", res.Rollover)
		}
		if res.Buckets == nil || res.Buckets.Errors > 0 || res.Buckets.CreateSessions == 0 {
			t.Errorf("buckets: %+v", res.Buckets)
		}
	}
}
