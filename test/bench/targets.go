package main

import (
	"fmt"
	"strings"
)

// Target thresholds, from DESIGN.md's performance targets. Nothing here is
// a measured value; every "got" comes from the run. The small-request p50
// bound is for a CPU-bound hop on a 2-core machine whose verify, sign and
// route work runs on cold caches; the hop's CPU per request is reported
// beside it.
const (
	largeUnsignedRatio = 0.95
	largeHexRatio      = 0.85
	peakRSSLimit       = 64 << 20
	addedP50Limit      = 60.0  // µs
	addedP99Limit      = 150.0 // µs
	smallRPSRatio      = 0.85
	windowP99Factor    = 1.5
	signNsLimit        = 3000.0
	signAllocsLimit    = 10.0
)

func status(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// evaluate computes the PASS/MISS list from the figures in res.
func evaluate(res *Results) []Target {
	var ts []Target
	add := func(name, want, got string, ok bool) {
		ts = append(ts, Target{Name: name, Want: want, Got: got, Status: status(ok)})
	}
	na := func(name, want, why string) {
		ts = append(ts, Target{Name: name, Want: want, Got: why, Status: "N/A"})
	}
	for _, c := range res.Large {
		if c.Op == "" {
			continue
		}
		limit := largeUnsignedRatio
		if c.Payload != payloadName(false) {
			limit = largeHexRatio
		}
		name := fmt.Sprintf("%slarge %s %s %s c=%d MB/s vs bare", tlsName(c.TLS), c.Op, sizeName(c.Size), c.Payload, c.Conc)
		if broken := cellErrors(c.Paths); broken != "" {
			add(name, fmt.Sprintf("≥ %.2f×", limit), "errors: "+broken, false)
			continue
		}
		r := cellFigure(c.RoundRatios, c.RatioBare)
		add(name, fmt.Sprintf("≥ %.2f× (median of rounds)", limit), ratioGot(r), r.Median >= limit)
		if c.Op == "PUT" && c.Conc >= 8 {
			for _, p := range c.Paths {
				if p.Path != pathProxy.String() {
					continue
				}
				peak := max(p.HopPeakRSS, p.HopPeakRSSSampled)
				add(fmt.Sprintf("%speak RSS, %d × %s concurrent PUTs (%s)", tlsName(c.TLS), c.Conc, sizeName(c.Size), c.Payload),
					"< 64 MiB", fmt.Sprintf("%.1f MiB", float64(peak)/(1<<20)), peak > 0 && peak < peakRSSLimit)
			}
		}
	}
	for _, c := range res.Small {
		if broken := cellErrors(c.Paths); broken != "" {
			add(fmt.Sprintf("%ssmall %s c=%d", tlsName(c.TLS), c.Op, c.Conc), "no errors", "errors: "+broken, false)
			continue
		}
		if c.Conc == 1 {
			r := cellFigure(c.RoundAddedP50, c.AddedP50)
			cpu := pathOf(c.Paths, pathProxy).HopCPUPerReq
			add(fmt.Sprintf("%ssmall %s c=1 added p50", tlsName(c.TLS), c.Op), "≤ 60 µs (median of rounds)",
				fmt.Sprintf("%.1f µs (rounds %.0f–%.0f; hop CPU %.1f µs/req)", r.Median, r.Min, r.Max, cpu), r.Median <= addedP50Limit)
			add(fmt.Sprintf("%ssmall %s c=1 added p99", tlsName(c.TLS), c.Op), "≤ 150 µs",
				fmt.Sprintf("%.1f µs", c.AddedP99), c.AddedP99 <= addedP99Limit)
		}
		if c.Conc == 64 {
			r := cellFigure(c.RoundRatios, c.RatioBare)
			add(fmt.Sprintf("%ssmall %s c=64 req/s vs bare", tlsName(c.TLS), c.Op), "≥ 0.85× (median of rounds)",
				ratioGot(r), r.Median >= smallRPSRatio)
		}
	}
	if r := res.Rollover; r != nil {
		add(fmt.Sprintf("rollover CreateSession calls (TTL %s, refresh_before %s, %.0fs)", r.SessionTTL, r.RefreshBefore, r.Duration),
			fmt.Sprintf("≤ %.1f", r.Bound), fmt.Sprintf("%d", r.CreateSessions), r.CreateSessions <= int(r.Bound) && r.CreateSessions > 0)
		add("rollover max 1-s window p99 / median window", "≤ 1.5×",
			fmt.Sprintf("%.2f× (%.0f / %.0f µs)", r.MaxOverMedian, r.MaxP99us, r.MedianP99us),
			r.MaxOverMedian > 0 && r.MaxOverMedian <= windowP99Factor && r.Errors == 0)
	}
	if b := res.Buckets; b != nil {
		add(fmt.Sprintf("%d buckets CreateSession calls", b.Buckets), fmt.Sprintf("≤ %.0f", b.Bound),
			fmt.Sprintf("%d", b.CreateSessions), b.CreateSessions <= int(b.Bound) && b.CreateSessions > 0 && b.Errors == 0)
	}
	signFound := false
	for _, m := range res.Micro {
		// sdk=true is the signing package's reference run of the SDK's own
		// signer (Signer.UseSDK), not the production path.
		if !strings.HasPrefix(m.Name, "BenchmarkSignSession") || strings.Contains(m.Name, "sdk=true") {
			continue
		}
		signFound = true
		add(m.Name+" ns/op", "≤ 3000 ns", fmt.Sprintf("%.0f ns", m.NsPerOp), m.NsPerOp <= signNsLimit)
		add(m.Name+" allocs/op", "≤ 10", fmt.Sprintf("%.0f", m.AllocsPerOp), m.AllocsPerOp <= signAllocsLimit)
	}
	if !signFound {
		na("outbound signing micro-benchmark", "≤ 3 µs, ≤ 10 allocs", "BenchmarkSignSession not run or not found")
	}
	return ts
}

// cellFigure is the spread that decides a cell: its per-round figures, or
// the whole-cell figure alone when the cell has no rounds (a single round,
// or results written before rounds were kept).
func cellFigure(s Spread, whole float64) Spread {
	if len(s.Rounds) == 0 {
		return Spread{Median: whole, Min: whole, Max: whole}
	}
	return s
}

// ratioGot formats a ratio spread: the median, then the range of rounds.
func ratioGot(s Spread) string {
	if s.Min == s.Max {
		return fmt.Sprintf("%.3f×", s.Median)
	}
	return fmt.Sprintf("%.3f× (rounds %.3f–%.3f)", s.Median, s.Min, s.Max)
}

// cellErrors reports paths of a cell that had errors or moved nothing.
func cellErrors(ps []PathFigures) string {
	var out []string
	for _, p := range ps {
		if p.Errors > 0 || p.Ops == 0 {
			out = append(out, fmt.Sprintf("%s %d/%d failed", p.Path, p.Errors, p.Errors+p.Ops))
		}
	}
	return strings.Join(out, ", ")
}

func tlsName(tls bool) string {
	if tls {
		return "TLS "
	}
	return ""
}

// sizeName formats a byte size as 4KiB, 64MiB, 1GiB.
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
