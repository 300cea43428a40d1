package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// runRollover is scenario 3: short emulator sessions, steady traffic through
// s3xproxy at fixed concurrency; CreateSession calls against the bound and
// p99 latency per one-second window against the median window.
func runRollover(ctx context.Context, cfg *config, res *Results) error {
	e, err := startEnv(cfg, envOptions{name: "rollover", sessionTTL: cfg.rollTTL, refreshBefore: cfg.rollBefore, noBare: true})
	if err != nil {
		return err
	}
	defer e.stop()
	bucket := bucketName(0)
	key := "rollover/get"
	if err := seedObject(ctx, e, bucket, key, cfg.smallSize); err != nil {
		return err
	}
	c := e.clients[pathProxy]
	next := func(w, i int) request { return request{op: http.MethodGet, bucket: bucket, key: key} }
	// Warm: the first (cold) CreateSession and the connection pool are not
	// part of the measured window.
	runLoad(ctx, c, loadSpec{conc: cfg.rollConc, dur: cfg.warmup, next: next}, 0, 0)
	cs0, keys0, err := e.createSessions()
	if err != nil {
		return err
	}
	lr := runLoad(ctx, c, loadSpec{conc: cfg.rollConc, dur: cfg.rollDur, next: next, keepLatencies: true}, 0, 0)
	cs1, keys1, err := e.createSessions()
	if err != nil {
		return err
	}
	r := &Rollover{SessionTTL: cfg.rollTTL.String(), RefreshBefore: cfg.rollBefore.String(),
		Duration: lr.Elapsed.Seconds(), Conc: cfg.rollConc, Ops: lr.Ops, Errors: lr.Errors,
		RPS: float64(lr.Ops) / lr.Elapsed.Seconds(), CreateSessions: cs1 - cs0}
	if lr.Errors > 0 {
		r.Error = fmt.Sprintf("%d errors, first: %s", lr.Errors, lr.FirstErr)
	}
	for k, v := range keys1 {
		if v > keys0[k] {
			r.Keys++
		}
	}
	r.Keys = max(r.Keys, 1)
	period := cfg.rollTTL - cfg.rollBefore
	r.Bound = float64(r.Keys) * (lr.Elapsed.Seconds()/period.Seconds() + 1)
	r.WindowP99us = windowP99(lr.Lat, lr.Done, time.Second, lr.Elapsed)
	if len(r.WindowP99us) > 0 {
		s := slices.Clone(r.WindowP99us)
		slices.Sort(s)
		r.MedianP99us = s[len(s)/2]
		r.MaxP99us = s[len(s)-1]
		if r.MedianP99us > 0 {
			r.MaxOverMedian = r.MaxP99us / r.MedianP99us
		}
	}
	p := percentiles(lr.Lat, 0.5, 0.99)
	r.P50us, r.P99us = p[0], p[1]
	res.Rollover = r
	logf("rollover: %d CreateSession in %.0fs (bound %.1f), window p99 median %.0fµs max %.0fµs (%.2f×), %.0f req/s%s",
		r.CreateSessions, r.Duration, r.Bound, r.MedianP99us, r.MaxP99us, r.MaxOverMedian, r.RPS, prefixed("; ", r.Error))
	return nil
}

// windowP99 groups latencies by the window their request completed in and
// returns each full window's p99 in µs (a trailing partial window shorter
// than half a window is dropped).
func windowP99(lat, done []int64, win, total time.Duration) []float64 {
	n := int(total / win)
	if total%win >= win/2 {
		n++
	}
	buckets := make([][]int64, n)
	for i, d := range done {
		w := int(time.Duration(d) / win)
		if w < n {
			buckets[w] = append(buckets[w], lat[i])
		}
	}
	out := make([]float64, 0, n)
	for _, b := range buckets {
		if len(b) == 0 {
			out = append(out, 0)
			continue
		}
		out = append(out, percentiles(b, 0.99)[0])
	}
	return out
}

// runBuckets is scenario 4: many buckets round-robin through s3xproxy;
// CreateSession calls, the proxy's session cache size and RSS per session.
func runBuckets(ctx context.Context, cfg *config, res *Results) error {
	n := cfg.buckets
	e, err := startEnv(cfg, envOptions{name: "buckets", buckets: n, noBare: true,
		createRate: float64(4 * n), createBurst: 2 * n, maxEntries: 4 * n})
	if err != nil {
		return err
	}
	defer e.stop()
	c := e.clients[pathProxy]
	size := cfg.smallSize
	hash := patternSHA256(size)
	put := func(b int) request {
		return request{op: http.MethodPut, bucket: bucketName(b), key: "many/obj", size: size, hash: hash}
	}
	// Warm on bucket 0 only: one session, the connection pool, the runtime.
	runLoad(ctx, c, loadSpec{conc: cfg.rollConc, dur: cfg.warmup, next: func(w, i int) request { return put(0) }}, 0, 0)
	time.Sleep(200 * time.Millisecond)
	st0, err := readProcStat(e.proxy.pid())
	if err != nil {
		return err
	}
	heap0, heapOK := e.proxyMetric("go_memstats_heap_inuse_bytes")
	fd0 := openFDs(e.proxy.pid())
	cs0, _, err := e.createSessions()
	if err != nil {
		return err
	}
	conc := cfg.rollConc
	total := n * cfg.bucketPasses
	per := (total + conc - 1) / conc
	lr := runLoad(ctx, c, loadSpec{conc: conc, perWorker: per, next: func(w, i int) request {
		return put((i*conc + w) % n)
	}}, 0, 0)
	time.Sleep(200 * time.Millisecond)
	st1, _ := readProcStat(e.proxy.pid())
	heap1, _ := e.proxyMetric("go_memstats_heap_inuse_bytes")
	fd1 := openFDs(e.proxy.pid())
	cs1, _, err := e.createSessions()
	if err != nil {
		return err
	}
	b := &Buckets{Buckets: n, Requests: lr.Ops, Errors: lr.Errors, Seconds: lr.Elapsed.Seconds(),
		RPS: float64(lr.Ops) / lr.Elapsed.Seconds(), CreateSessions: cs1 - cs0,
		RSSBefore: st0.RSS, RSSAfter: st1.RSS, FDsBefore: fd0, FDsAfter: fd1}
	if lr.Errors > 0 {
		b.Error = fmt.Sprintf("%d errors, first: %s", lr.Errors, lr.FirstErr)
	}
	// The sessions' lifetime is the emulator default (5 min) with the
	// proxy's default refresh_before (60 s): period 240 s.
	b.Bound = float64(n) * (lr.Elapsed.Seconds()/240 + 1)
	if v, name, ok := e.sessionCacheSize(); ok {
		b.CacheSize, b.CacheMetric = v, name
	}
	if d := b.CreateSessions; d > 0 {
		b.RSSPerSession = float64(st1.RSS-st0.RSS) / float64(d)
		if heapOK {
			b.HeapPerSession = (heap1 - heap0) / float64(d)
		}
	}
	res.Buckets = b
	logf("buckets: %d buckets, %d requests (%.0f req/s), %d CreateSession (bound %.0f), cache %.0f, RSS %d→%d KiB, %.0f B RSS/session, %.0f B heap/session, fds %d→%d%s",
		n, b.Requests, b.RPS, b.CreateSessions, b.Bound, b.CacheSize, b.RSSBefore>>10, b.RSSAfter>>10, b.RSSPerSession, b.HeapPerSession,
		fd0, fd1, prefixed("; ", b.Error))
	return nil
}

// sessionCacheSize finds s3xproxy's session-cache-size gauge in /metrics by
// name (any metric mentioning session and entries/size/cached).
func (e *env) sessionCacheSize() (float64, string, bool) {
	for _, name := range []string{"s3xproxy_session_cache_entries", "s3xproxy_session_cache_size",
		"s3xproxy_sessions_cached", "s3xproxy_session_cache_len", "s3xproxy_sessions_cache_size"} {
		if v, ok := e.proxyMetric(name); ok {
			return v, name, true
		}
	}
	return 0, "", false
}

// parseCreateSessions extracts CreateSession counts from the emulator's
// /stats document: the total and a count per "bucket/mode". It accepts a
// number, a map of bucket to number, or a map of bucket to map of mode to
// number under any key whose name mentions createsession.
func parseCreateSessions(m map[string]any) (int, map[string]int, error) {
	keys := map[string]int{}
	total := 0
	found := false
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case float64:
			total += int(x)
			keys[prefix] += int(x)
		case map[string]any:
			names := make([]string, 0, len(x))
			for k := range x {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				walk(strings.TrimPrefix(prefix+"/"+k, "/"), x[k])
			}
		}
	}
	for k, v := range m {
		norm := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
		if strings.Contains(norm, "createsession") {
			found = true
			walk("", v)
		}
	}
	if !found {
		return 0, nil, fmt.Errorf("emulator /stats has no CreateSession counts (keys: %v)", mapKeys(m))
	}
	return total, keys, nil
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
