package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"
)

// payloadName names the declared payload hash mode.
func payloadName(hex bool) string {
	if hex {
		return "hex-sha256"
	}
	return "UNSIGNED-PAYLOAD"
}

// seedObject PUTs one object through the direct path, so GETs of it find it.
func seedObject(ctx context.Context, e *env, bucket, key string, size int64) error {
	buf := make([]byte, 64<<10)
	_, err := e.clients[pathDirect].do(ctx, request{op: http.MethodPut, bucket: bucket, key: key, size: size}, buf)
	if err != nil {
		return fmt.Errorf("seed %s: %w", key, err)
	}
	return nil
}

// envPaths returns the paths e can measure, in the canonical order.
func envPaths(e *env) []pathKind {
	var out []pathKind
	for _, k := range allPaths {
		if e.clients[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

// figures turns an aggregate into PathFigures.
func figures(k pathKind, a *agg) PathFigures {
	f := PathFigures{Path: k.String(), Ops: a.Ops, Errors: a.Errors, Error: errSummary(a), Bytes: a.Bytes,
		Seconds: a.Elapsed.Seconds(), EmuCPUs: a.EmuCPU.Seconds(), Rounds: a.Rounds, RoundP50us: a.RoundP50}
	if k != pathDirect {
		f.HopCPUs = a.HopCPU.Seconds()
	}
	return f
}

// runLarge is scenario 1 (and the large half of 5): GET and PUT of one
// large object per worker at each concurrency, UNSIGNED-PAYLOAD and hex
// SHA-256, on every path, interleaved over rounds.
func runLarge(ctx context.Context, cfg *config, e *env, res *Results) error {
	size := cfg.largeSize
	bucket := bucketName(0)
	getKey := fmt.Sprintf("large/get-%d", size)
	if err := seedObject(ctx, e, bucket, getKey, size); err != nil {
		return err
	}
	hash := patternSHA256(size)
	for _, op := range []string{http.MethodGet, http.MethodPut} {
		for _, hex := range []bool{false, true} {
			for _, conc := range cfg.largeConc {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				cell := Large{TLS: e.opts.tls, Op: op, Payload: payloadName(hex), Conc: conc, Size: size}
				spec := loadSpec{conc: conc, perWorker: 1, next: func(w, _ int) request {
					r := request{op: op, bucket: bucket, key: getKey, size: size, hash: hash, hex: hex}
					if op == http.MethodPut {
						r.key = fmt.Sprintf("large/put-%d", w)
					}
					return r
				}}
				aggs := map[pathKind]*agg{}
				peaks := map[pathKind][2]int64{}
				for r := 0; r < largeRounds(cfg.largeRounds, conc); r++ {
					for _, k := range roundOrder(envPaths(e), r) {
						pid := e.hopPID(k)
						var sampler *rssSampler
						if pid != 0 {
							_ = resetHWM(pid)
							sampler = sampleRSS(pid, 20*time.Millisecond)
						}
						lr := runLoad(ctx, e.clients[k], spec, pid, e.emu.pid())
						if pid != 0 {
							sampled := sampler.stop()
							st, _ := readProcStat(pid)
							p := peaks[k]
							peaks[k] = [2]int64{max(p[0], st.HWM), max(p[1], sampled)}
						}
						if aggs[k] == nil {
							aggs[k] = &agg{}
						}
						aggs[k].add(lr, float64(lr.Bytes)/1e6/lr.Elapsed.Seconds())
					}
				}
				if cfg.pprofDir != "" && hex && conc == cfg.largeConc[len(cfg.largeConc)-1] {
					name := fmt.Sprintf("cpu-large-%s%s-hex-c%d.pprof", tlsFile(e), op, conc)
					profileBurst(ctx, cfg, e, spec, cfg.largeProfile, name, res)
				}
				for _, k := range envPaths(e) {
					a := aggs[k]
					f := figures(k, a)
					f.MBps = a.mbps()
					if k != pathDirect && a.Bytes > 0 {
						f.HopCPUPerGiB = a.HopCPU.Seconds() / (float64(a.Bytes) / (1 << 30))
						f.HopPeakRSS, f.HopPeakRSSSampled = peaks[k][0], peaks[k][1]
					}
					cell.Paths = append(cell.Paths, f)
				}
				cell.RatioBare = ratio(cell.Paths, pathProxy, pathBare, func(f PathFigures) float64 { return f.MBps })
				cell.RatioDirect = ratio(cell.Paths, pathProxy, pathDirect, func(f PathFigures) float64 { return f.MBps })
				cell.RoundRatios = roundSpread(cell.Paths, func(px, bare float64) float64 { return px / bare },
					func(f PathFigures) []float64 { return f.Rounds })
				res.Large = append(res.Large, cell)
				logf("large %s%s %s c=%d: %s ratio/bare %.3f", tlsTag(e), op, cell.Payload, conc, mbpsLine(cell.Paths), cell.RatioBare)
			}
		}
	}
	return nil
}

// largeRounds is the number of interleaved rounds of a large cell at
// concurrency conc: rounds, doubled at concurrency 1. A c=1 round moves an
// eighth of a c=8 round's bytes in a second or two, and its ratio moved
// most from run to run (TLS hex PUT c=1: 0.75-0.96 over a dozen runs on one
// build); the extra rounds cost about a minute of a full run.
func largeRounds(rounds, conc int) int {
	if conc == 1 {
		return 2 * rounds
	}
	return rounds
}

// ratio returns figure(a)/figure(b) for two paths of a cell, 0 if missing.
// roundSpread compares s3xproxy with the bare hop round by round: rounds
// picks a per-round series from a path's figures and cmp combines one
// round of each (a ratio or a difference). Rounds run both paths back to
// back (roundOrder), so per-round comparisons cancel most of the machine's
// drift that a ratio of totals keeps.
func roundSpread(ps []PathFigures, cmp func(px, bare float64) float64, rounds func(PathFigures) []float64) Spread {
	px, bare := rounds(pathOf(ps, pathProxy)), rounds(pathOf(ps, pathBare))
	var out []float64
	for i := range min(len(px), len(bare)) {
		if bare[i] == 0 {
			continue
		}
		out = append(out, cmp(px[i], bare[i]))
	}
	return spreadOf(out)
}

// spreadOf returns the median, minimum and maximum of xs (zero when empty).
func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Spread{Median: med, Min: s[0], Max: s[len(s)-1], Rounds: xs}
}

func ratio(ps []PathFigures, a, b pathKind, fig func(PathFigures) float64) float64 {
	var x, y float64
	for _, p := range ps {
		switch p.Path {
		case a.String():
			x = fig(p)
		case b.String():
			y = fig(p)
		}
	}
	if y == 0 {
		return 0
	}
	return x / y
}

func tlsTag(e *env) string {
	if e.opts.tls {
		return "TLS "
	}
	return ""
}

func mbpsLine(ps []PathFigures) string {
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf("%s %.0f MB/s  ", p.Path, p.MBps)
		if p.Errors > 0 {
			s += fmt.Sprintf("(%d errors: %.120s)  ", p.Errors, p.Error)
		}
	}
	return s
}

// runSmall is scenario 2 (and the small half of 5): 4 KiB GET, HEAD and PUT
// at each concurrency, duration windows interleaved over rounds.
func runSmall(ctx context.Context, cfg *config, e *env, res *Results) error {
	bucket := bucketName(0)
	size := cfg.smallSize
	getKey := "small/get"
	if err := seedObject(ctx, e, bucket, getKey, size); err != nil {
		return err
	}
	hash := patternSHA256(size)
	for _, op := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
		for _, conc := range cfg.smallConc {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cell := Small{TLS: e.opts.tls, Op: op, Conc: conc, Size: size}
			next := func(w, i int) request {
				r := request{op: op, bucket: bucket, key: getKey, size: size, hash: hash}
				if op == http.MethodPut {
					r.key = fmt.Sprintf("small/put-%d", w)
				}
				return r
			}
			aggs := map[pathKind]*agg{}
			for r := 0; r < cfg.smallRounds; r++ {
				for _, k := range roundOrder(envPaths(e), r) {
					// Warm the path's connection pool at this concurrency, unmeasured.
					runLoad(ctx, e.clients[k], loadSpec{conc: conc, dur: cfg.warmup, next: next}, 0, 0)
					lr := runLoad(ctx, e.clients[k], loadSpec{conc: conc, dur: cfg.smallWindow, next: next, keepLatencies: true},
						e.hopPID(k), e.emu.pid())
					if aggs[k] == nil {
						aggs[k] = &agg{}
					}
					aggs[k].add(lr, float64(lr.Ops)/lr.Elapsed.Seconds())
				}
			}
			if cfg.pprofDir != "" && (conc == 1 || conc == cfg.smallConc[len(cfg.smallConc)-1]) {
				name := fmt.Sprintf("cpu-small-%s%s-c%d.pprof", tlsFile(e), op, conc)
				profileBurst(ctx, cfg, e, loadSpec{conc: conc, dur: cfg.largeProfile, next: next}, cfg.largeProfile, name, res)
			}
			for _, k := range envPaths(e) {
				a := aggs[k]
				f := figures(k, a)
				f.RPS = a.rps()
				p := percentiles(a.Lat, 0.50, 0.99, 0.999)
				f.P50us, f.P99us, f.P999us = p[0], p[1], p[2]
				if k != pathDirect && a.Ops > 0 {
					f.HopCPUPerReq = a.HopCPU.Seconds() * 1e6 / float64(a.Ops)
					f.HopCtxSwPerReq = float64(a.HopCtxSw) / float64(a.Ops)
				}
				cell.Paths = append(cell.Paths, f)
			}
			get := func(k pathKind) PathFigures {
				for _, p := range cell.Paths {
					if p.Path == k.String() {
						return p
					}
				}
				return PathFigures{}
			}
			px, bare := get(pathProxy), get(pathBare)
			cell.AddedP50, cell.AddedP99, cell.AddedP999 = px.P50us-bare.P50us, px.P99us-bare.P99us, px.P999us-bare.P999us
			cell.RatioBare = ratio(cell.Paths, pathProxy, pathBare, func(f PathFigures) float64 { return f.RPS })
			cell.RoundRatios = roundSpread(cell.Paths, func(px, bare float64) float64 { return px / bare },
				func(f PathFigures) []float64 { return f.Rounds })
			cell.RoundAddedP50 = roundSpread(cell.Paths, func(px, bare float64) float64 { return px - bare },
				func(f PathFigures) []float64 { return f.RoundP50us })
			res.Small = append(res.Small, cell)
			logf("small %s%s c=%d: direct %.0f bare %.0f s3xproxy %.0f req/s; added p50 %.0fµs p99 %.0fµs; CPU µs/req bare %.1f proxy %.1f; context switches/req bare %.2f proxy %.2f%s",
				tlsTag(e), op, conc, get(pathDirect).RPS, bare.RPS, px.RPS, cell.AddedP50, cell.AddedP99, bare.HopCPUPerReq, px.HopCPUPerReq,
				bare.HopCtxSwPerReq, px.HopCtxSwPerReq,
				errNote(cell.Paths))
		}
	}
	return nil
}

func tlsFile(e *env) string {
	if e.opts.tls {
		return "tls-"
	}
	return ""
}

func errNote(ps []PathFigures) string {
	s := ""
	for _, p := range ps {
		if p.Errors > 0 {
			s += fmt.Sprintf("; %s: %.160s", p.Path, p.Error)
		}
	}
	return s
}

// runSweep measures single-stream GET and PUT throughput per path at each
// sweep size (UNSIGNED-PAYLOAD), for the chart. The large size reuses
// scenario 1's c=1 figures when they exist.
func runSweep(ctx context.Context, cfg *config, e *env, res *Results) error {
	bucket := bucketName(0)
	for _, size := range cfg.sweepSizes {
		for _, op := range []string{http.MethodGet, http.MethodPut} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			pt := Sweep{Op: op, Size: size, MBps: map[string]float64{}}
			if reused := fromLarge(res, op, size); reused != nil {
				pt.MBps = reused
				res.Sweep = append(res.Sweep, pt)
				continue
			}
			key := fmt.Sprintf("sweep/%d", size)
			if op == http.MethodGet {
				if err := seedObject(ctx, e, bucket, key, size); err != nil {
					return err
				}
			}
			next := func(w, i int) request { return request{op: op, bucket: bucket, key: key, size: size} }
			aggs := map[pathKind]*agg{}
			for r := 0; r < cfg.sweepRounds; r++ {
				for _, k := range roundOrder(envPaths(e), r) {
					lr := runLoad(ctx, e.clients[k], loadSpec{conc: 1, dur: cfg.sweepWindow, next: next}, 0, 0)
					if aggs[k] == nil {
						aggs[k] = &agg{}
					}
					aggs[k].add(lr, 0)
				}
			}
			for _, k := range envPaths(e) {
				pt.MBps[k.String()] = aggs[k].mbps()
				if s := errSummary(aggs[k]); s != "" && pt.Error == "" {
					pt.Error = k.String() + ": " + s
				}
			}
			res.Sweep = append(res.Sweep, pt)
			logf("sweep %s %s: direct %.0f bare %.0f s3xproxy %.0f MB/s", op, sizeName(size),
				pt.MBps["direct"], pt.MBps["bare"], pt.MBps["s3xproxy"])
		}
	}
	return nil
}

// fromLarge returns the plain-HTTP c=1 UNSIGNED-PAYLOAD MB/s of scenario 1
// for op and size, or nil.
func fromLarge(res *Results, op string, size int64) map[string]float64 {
	for _, c := range res.Large {
		if !c.TLS && c.Op == op && c.Size == size && c.Conc == 1 && c.Payload == payloadName(false) {
			m := map[string]float64{}
			for _, p := range c.Paths {
				m[p.Path] = p.MBps
			}
			return m
		}
	}
	return nil
}

// profileBurst runs one extra, unmeasured burst of spec through s3xproxy
// while capturing a CPU profile of it for d into cfg.pprofDir/name, so
// profiling never perturbs the measured figures.
func profileBurst(ctx context.Context, cfg *config, e *env, spec loadSpec, d time.Duration, name string, res *Results) {
	file := filepath.Join(cfg.pprofDir, name)
	prof := e.profile(ctx, d, file)
	// Give the profiler a moment to start before the load does.
	time.Sleep(50 * time.Millisecond)
	spec.perWorker, spec.dur, spec.keepLatencies = 0, d, false // repeat for the whole capture
	runLoad(ctx, e.clients[pathProxy], spec, 0, 0)
	if err := <-prof; err != nil {
		logf("pprof %s: %v", name, err)
		return
	}
	res.Profiles = append(res.Profiles, file)
}
