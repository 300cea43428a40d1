package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one measured burst of traffic on one path.
type loadSpec struct {
	conc int
	// perWorker, when > 0, makes each worker send exactly that many requests
	// (large objects); otherwise workers loop until dur has passed.
	perWorker int
	dur       time.Duration
	// next returns the request for a worker's i-th request.
	next func(worker, i int) request
	// keepLatencies records each request's latency and completion time.
	keepLatencies bool
}

// loadResult is what a burst measured.
type loadResult struct {
	Ops      int
	Errors   int
	Bytes    int64
	Elapsed  time.Duration
	FirstErr string
	// Lat are per-request latencies (ns); Done are completion offsets from
	// the start (ns), same order.
	Lat  []int64
	Done []int64
	// HopCPU and EmuCPU are the CPU time the hop process (bare hop or
	// s3xproxy; 0 for direct) and the emulator used during the burst.
	HopCPU time.Duration
	EmuCPU time.Duration
	// HopCtxSw is the hop process's context switches during the burst.
	HopCtxSw int64
}

// runLoad drives spec on client c, measuring the hop process hopPID and the
// emulator emuPID (either 0 to skip).
func runLoad(ctx context.Context, c *client, spec loadSpec, hopPID, emuPID int) loadResult {
	var res loadResult
	hop0, _ := statIf(hopPID)
	emu0, _ := statIf(emuPID)
	var (
		mu       sync.Mutex
		ops      atomic.Int64
		errs     atomic.Int64
		bytes    atomic.Int64
		firstErr atomic.Pointer[string]
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(spec.dur)
	for w := 0; w < spec.conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			var lat, done []int64
			if spec.keepLatencies {
				lat = make([]int64, 0, 4096)
				done = make([]int64, 0, 4096)
			}
			for i := 0; ; i++ {
				if spec.perWorker > 0 {
					if i >= spec.perWorker {
						break
					}
				} else if !time.Now().Before(deadline) {
					break
				}
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				n, err := c.do(ctx, spec.next(w, i), buf)
				t1 := time.Now()
				if err != nil {
					if errs.Add(1) == 1 {
						s := err.Error()
						firstErr.Store(&s)
					}
					if errs.Load() > 100 {
						cancel() // the path is broken; stop hammering it
					}
					continue
				}
				ops.Add(1)
				bytes.Add(n)
				if spec.keepLatencies {
					lat = append(lat, int64(t1.Sub(t0)))
					done = append(done, int64(t1.Sub(start)))
				}
			}
			if spec.keepLatencies {
				mu.Lock()
				res.Lat = append(res.Lat, lat...)
				res.Done = append(res.Done, done...)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Ops = int(ops.Load())
	res.Errors = int(errs.Load())
	res.Bytes = bytes.Load()
	if p := firstErr.Load(); p != nil {
		res.FirstErr = *p
	}
	if hop1, ok := statIf(hopPID); ok {
		res.HopCPU = hop1.CPU - hop0.CPU
		res.HopCtxSw = hop1.CtxSw - hop0.CtxSw
	}
	if emu1, ok := statIf(emuPID); ok {
		res.EmuCPU = emu1.CPU - emu0.CPU
	}
	return res
}

func statIf(pid int) (procStat, bool) {
	if pid == 0 {
		return procStat{}, false
	}
	s, err := readProcStat(pid)
	return s, err == nil
}

// agg accumulates the bursts of one path over the interleaved rounds.
type agg struct {
	Ops, Errors int
	Bytes       int64
	Elapsed     time.Duration
	HopCPU      time.Duration
	HopCtxSw    int64
	EmuCPU      time.Duration
	Lat         []int64
	Done        []int64
	FirstErr    string
	Rounds      []float64 // per-round rate (MB/s or req/s), to show spread
	RoundP50    []float64 // per-round p50 latency in µs, when latencies are kept
}

func (a *agg) add(r loadResult, rate float64) {
	a.Ops += r.Ops
	a.Errors += r.Errors
	a.Bytes += r.Bytes
	a.Elapsed += r.Elapsed
	a.HopCPU += r.HopCPU
	a.HopCtxSw += r.HopCtxSw
	a.EmuCPU += r.EmuCPU
	a.Lat = append(a.Lat, r.Lat...)
	a.Done = append(a.Done, r.Done...)
	if a.FirstErr == "" {
		a.FirstErr = r.FirstErr
	}
	a.Rounds = append(a.Rounds, rate)
	if len(r.Lat) > 0 {
		a.RoundP50 = append(a.RoundP50, percentiles(r.Lat, 0.50)[0])
	}
}

// mbps is throughput in MB/s (10^6 bytes per second) over the summed elapsed time.
func (a *agg) mbps() float64 {
	if a.Elapsed <= 0 {
		return 0
	}
	return float64(a.Bytes) / 1e6 / a.Elapsed.Seconds()
}

// rps is requests per second over the summed elapsed time.
func (a *agg) rps() float64 {
	if a.Elapsed <= 0 {
		return 0
	}
	return float64(a.Ops) / a.Elapsed.Seconds()
}

// percentiles returns the given quantiles of ns latencies, in µs.
func percentiles(lat []int64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	if len(lat) == 0 {
		return out
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	for i, q := range qs {
		idx := int(q*float64(len(s))+0.5) - 1
		idx = min(max(idx, 0), len(s)-1)
		out[i] = float64(s[idx]) / 1e3
	}
	return out
}

// roundOrder returns the path order for round r: forward on even rounds,
// reversed on odd ones (ABC, CBA, ...), so a linear drift of machine speed
// cancels out of the ratios.
func roundOrder(paths []pathKind, r int) []pathKind {
	p := slices.Clone(paths)
	if r%2 == 1 {
		slices.Reverse(p)
	}
	return p
}

// errSummary formats an error count and the first error, or "".
func errSummary(a *agg) string {
	if a.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d errors, first: %s", a.Errors, strings.TrimSpace(a.FirstErr))
}
