package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parseSize parses 4KiB, 64MiB, 1GiB, 512KB or a plain byte count.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func containsSize(s []int64, n int64) bool {
	for _, v := range s {
		if v == n {
			return true
		}
	}
	return false
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// rawFlags are the flags parsed as strings before they become config
// fields (sizes, lists, the scenario set).
type rawFlags struct {
	only, largeSize, smallSize, sweep, tlsLarge string
	largeConc, smallConc                        string
}

// parseFlags parses the harness's command line into a config with every
// default (full or --quick) filled in.
func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{}
	var raw rawFlags
	registerFlags(fs, c, &raw)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.parseSizes(&raw); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if c.rollBefore >= c.rollTTL {
		return nil, fmt.Errorf("--refresh-before %s must be shorter than --session-ttl %s", c.rollBefore, c.rollTTL)
	}
	var err error
	if c.only, err = parseOnly(raw.only); err != nil {
		return nil, err
	}
	return c, nil
}

// registerFlags defines every flag on fs, writing into c and raw.
func registerFlags(fs *flag.FlagSet, c *config, raw *rawFlags) {
	fs.BoolVar(&c.quick, "quick", false, "short run: small objects sizes and windows (< 2 minutes)")
	fs.StringVar(&raw.only, "only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames, ","))
	fs.StringVar(&c.jsonFile, "json", "", "write every figure as JSON to `FILE`")
	fs.StringVar(&c.mdFile, "md", "", "regenerate the results section of `FILE` (BENCHMARKS.md)")
	fs.StringVar(&c.chartFile, "chart", "", "write the throughput-against-size chart as SVG to `FILE`")
	fs.StringVar(&c.pprofDir, "pprof", "", "capture s3xproxy CPU profiles under load into `DIR` (admin.pprof)")
	fs.DurationVar(&c.largeProfile, "pprof-duration", 0, "length of each --pprof capture (default 5s, quick 2s)")
	fs.StringVar(&c.replayBuf, "replay-buffer", "", "s3xproxy retry.replay_buffer (default: s3xproxy's default)")
	fs.IntVar(&c.maxIdle, "max-idle-conns", 0, "s3xproxy upstream.max_idle_conns (default: s3xproxy's default; per host capped to it)")
	fs.BoolVar(&c.accessLog, "access-log", false, "run s3xproxy with its access log on (to a file)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (configs, process logs)")
	fs.DurationVar(&c.timeout, "timeout", 55*time.Minute, "stop the run after this long (partial results are still reported)")
	fs.StringVar(&c.binFlag, "bin", "", "use this s3xproxy binary instead of building one")
	fs.StringVar(&c.microBench, "micro-bench", ".", "go test -bench pattern for the micro-benchmarks")
	fs.StringVar(&c.microPkgs, "micro-pkgs", "./signing/,./proxy/", "packages whose micro-benchmarks run (signing: sign, verify, aws-chunked)")
	fs.StringVar(&c.microTime, "micro-benchtime", "1s", "go test -benchtime for the micro-benchmarks")
	fs.StringVar(&raw.largeSize, "large-size", "", "large object size (default 1GiB, quick 64MiB)")
	fs.StringVar(&raw.tlsLarge, "tls-large-size", "", "large object size with TLS upstream (default: --large-size)")
	fs.IntVar(&c.tlsRounds, "tls-rounds", 2, "interleaved rounds per large cell with TLS upstream, doubled at concurrency 1 (small cells use --small-rounds)")
	fs.IntVar(&c.largeRounds, "large-rounds", 0, "interleaved rounds per large cell, doubled at concurrency 1 (default 2, quick 1)")
	fs.StringVar(&raw.largeConc, "large-conc", "1,8", "large object concurrencies")
	fs.StringVar(&raw.smallSize, "small-size", "4KiB", "small object size")
	fs.DurationVar(&c.smallWindow, "small-window", 0, "measured window per path per round (default 700ms, quick 400ms)")
	fs.IntVar(&c.smallRounds, "small-rounds", 0, "interleaved rounds per small cell, TLS too (default 6, quick 1)")
	fs.StringVar(&raw.smallConc, "small-conc", "1,16,64", "small object concurrencies")
	fs.StringVar(&raw.sweep, "sweep", "", "size sweep for the chart (default 4KiB,1MiB,64MiB,<large-size>)")
	fs.DurationVar(&c.sweepWindow, "sweep-window", 0, "window per path per sweep point (default 1s, quick 300ms)")
	fs.DurationVar(&c.rollTTL, "session-ttl", 0, "emulator session TTL for the rollover scenario (default 10s, quick 4s)")
	fs.DurationVar(&c.rollBefore, "refresh-before", 0, "s3xproxy refresh_before for the rollover scenario (default 2s, quick 1s)")
	fs.DurationVar(&c.rollDur, "rollover-duration", 0, "rollover traffic duration (default 60s, quick 8s)")
	fs.IntVar(&c.rollConc, "rollover-conc", 32, "rollover and many-bucket concurrency")
	fs.IntVar(&c.buckets, "buckets", 0, "many-bucket scenario bucket count (default 2000, quick 200)")
	fs.IntVar(&c.bucketPasses, "bucket-passes", 2, "round-robin passes over the buckets")
}

// parseSizes turns the size and concurrency flags into c's fields; an
// empty --large-size or --sweep takes its full or --quick default.
func (c *config) parseSizes(raw *rawFlags) error {
	var err error
	if raw.largeSize == "" {
		raw.largeSize = "1GiB"
		if c.quick {
			raw.largeSize = "64MiB"
		}
	}
	if c.largeSize, err = parseSize(raw.largeSize); err != nil {
		return err
	}
	if raw.tlsLarge == "" {
		c.tlsLarge = c.largeSize
	} else if c.tlsLarge, err = parseSize(raw.tlsLarge); err != nil {
		return err
	}
	if c.smallSize, err = parseSize(raw.smallSize); err != nil {
		return err
	}
	if raw.sweep == "" {
		raw.sweep = "4KiB,1MiB,64MiB," + raw.largeSize
	}
	for _, s := range strings.Split(raw.sweep, ",") {
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		if !containsSize(c.sweepSizes, n) {
			c.sweepSizes = append(c.sweepSizes, n)
		}
	}
	slices.Sort(c.sweepSizes)
	if c.largeConc, err = parseInts(raw.largeConc); err != nil {
		return err
	}
	c.smallConc, err = parseInts(raw.smallConc)
	return err
}

// applyDefaults fills every numeric flag left at zero with its full-run
// or --quick default.
func (c *config) applyDefaults() {
	defInt := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	defDur := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	defInt(&c.largeRounds, 2, 1)
	defInt(&c.smallRounds, 6, 1)
	defInt(&c.sweepRounds, 2, 1)
	defInt(&c.buckets, 2000, 200)
	defDur(&c.smallWindow, 700*time.Millisecond, 400*time.Millisecond)
	defDur(&c.sweepWindow, time.Second, 300*time.Millisecond)
	defDur(&c.warmup, 300*time.Millisecond, 150*time.Millisecond)
	defDur(&c.rollTTL, 10*time.Second, 4*time.Second)
	defDur(&c.rollBefore, 2*time.Second, time.Second)
	defDur(&c.rollDur, 60*time.Second, 8*time.Second)
	defDur(&c.largeProfile, 5*time.Second, 2*time.Second)
}

// parseOnly parses --only into the set of scenarios to run (empty: all).
func parseOnly(only string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !containsStr(scenarioNames, s) {
			return nil, fmt.Errorf("--only: unknown scenario %q (have %s)", s, strings.Join(scenarioNames, ","))
		}
		set[s] = true
	}
	return set, nil
}
