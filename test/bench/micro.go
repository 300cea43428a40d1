package main

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// runMicro runs the signing package's micro-benchmarks (written beside the
// signing code) and collects ns/op and allocs/op. A missing benchmark is
// reported as a note, not an error.
func runMicro(ctx context.Context, cfg *config, res *Results) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, pkg := range strings.Split(cfg.microPkgs, ",") {
		if pkg = strings.TrimSpace(pkg); pkg == "" {
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", cfg.microBench,
			"-benchmem", "-benchtime", cfg.microTime, pkg)
		cmd.Dir = cfg.root
		out, err := cmd.CombinedOutput()
		ms := parseBench(string(out), pkg)
		if err != nil && len(ms) == 0 {
			res.Notes = append(res.Notes, "micro-benchmarks in "+pkg+" failed: "+firstLines(string(out), 5))
			continue
		}
		if len(ms) == 0 {
			res.Notes = append(res.Notes, "no benchmark matching "+cfg.microBench+" in "+pkg)
		}
		for _, m := range ms {
			logf("micro %s %s: %.0f ns/op %.0f B/op %.0f allocs/op", m.Package, m.Name, m.NsPerOp, m.BytesPerOp, m.AllocsPerOp)
		}
		res.Micro = append(res.Micro, ms...)
	}
	return nil
}

// parseBench parses `go test -bench -benchmem` output lines such as
// "BenchmarkSignSession-2  500000  2345 ns/op  512 B/op  7 allocs/op".
func parseBench(out, pkg string) []Micro {
	var ms []Micro
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		m := Micro{Package: pkg, Name: f[0]}
		if i := strings.LastIndexByte(m.Name, '-'); i > 0 {
			if _, err := strconv.Atoi(m.Name[i+1:]); err == nil {
				m.Name = m.Name[:i]
			}
		}
		ok := false
		for i := 2; i+1 < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				m.NsPerOp, ok = v, true
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			}
		}
		if ok {
			ms = append(ms, m)
		}
	}
	return ms
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
