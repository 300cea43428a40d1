// Command bench is s3xproxy's benchmark harness (issue 6).
//
// It builds s3xproxy, starts the emulator (--storage discard), s3xproxy and a
// bare httputil.ReverseProxy hop as separate processes on loopback, and
// measures three paths interleaved in the same run: direct (the client signs
// S3 Express session requests itself), bare hop (the same requests through
// the bare hop) and s3xproxy (a legacy SigV4 client, path-style, through the
// proxy). Scenarios: large objects, small objects, a size sweep for the
// chart, session rollover, many buckets, TLS upstream, and the signing
// micro-benchmarks. It prints a table and PASS/MISS per target; --json,
// --md and --chart write the figures. No figure is hard-coded and nothing
// here fails on timing.
//
//	go run ./test/bench --quick
//	go run ./test/bench --json bench.json --md BENCHMARKS.md --chart docs/bench-throughput.svg
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config is the harness's parsed command line.
type config struct {
	quick      bool
	only       map[string]bool
	jsonFile   string
	mdFile     string
	chartFile  string
	pprofDir   string
	accessLog  bool
	replayBuf  string
	md5ETags   string
	maxIdle    int // s3xproxy upstream.max_idle_conns (0: its default)
	keep       bool
	timeout    time.Duration
	binFlag    string
	root       string
	workDir    string
	bin        string // the s3xproxy binary
	self       string // this harness's executable (for --bare-hop)
	microBench string
	microPkgs  string
	microTime  string

	largeSize    int64
	largeRounds  int
	largeConc    []int
	largeProfile time.Duration
	tlsLarge     int64
	tlsRounds    int
	smallSize    int64
	smallWindow  time.Duration
	smallRounds  int
	smallConc    []int
	warmup       time.Duration
	sweepSizes   []int64
	sweepWindow  time.Duration
	sweepRounds  int
	rollTTL      time.Duration
	rollBefore   time.Duration
	rollDur      time.Duration
	rollConc     int
	buckets      int
	bucketPasses int
}

var scenarioNames = []string{"large", "small", "sweep", "rollover", "buckets", "tls", "micro"}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "--bare-hop" {
		ca := ""
		if len(os.Args) >= 6 && os.Args[4] == "--bare-hop-ca" {
			ca = os.Args[5]
		}
		if err := runBareHop(os.Args[2], os.Args[3], ca); err != nil {
			fmt.Fprintln(os.Stderr, "bare hop:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{}
	var only, largeSize, smallSize, sweep, tlsLarge string
	var largeConc, smallConc string
	fs.BoolVar(&c.quick, "quick", false, "short run: small objects sizes and windows (< 2 minutes)")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames, ","))
	fs.StringVar(&c.jsonFile, "json", "", "write every figure as JSON to `FILE`")
	fs.StringVar(&c.mdFile, "md", "", "regenerate the results section of `FILE` (BENCHMARKS.md)")
	fs.StringVar(&c.chartFile, "chart", "", "write the throughput-against-size chart as SVG to `FILE`")
	fs.StringVar(&c.pprofDir, "pprof", "", "capture s3xproxy CPU profiles under load into `DIR` (admin.pprof)")
	fs.DurationVar(&c.largeProfile, "pprof-duration", 0, "length of each --pprof capture (default 5s, quick 2s)")
	fs.StringVar(&c.replayBuf, "replay-buffer", "", "s3xproxy retry.replay_buffer (default: s3xproxy's default)")
	fs.StringVar(&c.md5ETags, "md5-etags", "", "s3xproxy compat.md5_etags, true or false (default: s3xproxy's default)")
	fs.IntVar(&c.maxIdle, "max-idle-conns", 0, "s3xproxy upstream.max_idle_conns (default: s3xproxy's default; per host capped to it)")
	fs.BoolVar(&c.accessLog, "access-log", false, "run s3xproxy with its access log on (to a file)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (configs, process logs)")
	fs.DurationVar(&c.timeout, "timeout", 55*time.Minute, "stop the run after this long (partial results are still reported)")
	fs.StringVar(&c.binFlag, "bin", "", "use this s3xproxy binary instead of building one")
	fs.StringVar(&c.microBench, "micro-bench", ".", "go test -bench pattern for the micro-benchmarks")
	fs.StringVar(&c.microPkgs, "micro-pkgs", "./signing/,./proxy/", "packages whose micro-benchmarks run (signing: sign, verify, aws-chunked)")
	fs.StringVar(&c.microTime, "micro-benchtime", "1s", "go test -benchtime for the micro-benchmarks")
	fs.StringVar(&largeSize, "large-size", "", "large object size (default 1GiB, quick 64MiB)")
	fs.StringVar(&tlsLarge, "tls-large-size", "", "large object size with TLS upstream (default: --large-size)")
	fs.IntVar(&c.tlsRounds, "tls-rounds", 2, "interleaved rounds per large cell with TLS upstream, doubled at concurrency 1 (small cells use --small-rounds)")
	fs.IntVar(&c.largeRounds, "large-rounds", 0, "interleaved rounds per large cell, doubled at concurrency 1 (default 2, quick 1)")
	fs.StringVar(&largeConc, "large-conc", "1,8", "large object concurrencies")
	fs.StringVar(&smallSize, "small-size", "4KiB", "small object size")
	fs.DurationVar(&c.smallWindow, "small-window", 0, "measured window per path per round (default 700ms, quick 400ms)")
	fs.IntVar(&c.smallRounds, "small-rounds", 0, "interleaved rounds per small cell, TLS too (default 6, quick 1)")
	fs.StringVar(&smallConc, "small-conc", "1,16,64", "small object concurrencies")
	fs.StringVar(&sweep, "sweep", "", "size sweep for the chart (default 4KiB,1MiB,64MiB,<large-size>)")
	fs.DurationVar(&c.sweepWindow, "sweep-window", 0, "window per path per sweep point (default 1s, quick 300ms)")
	fs.DurationVar(&c.rollTTL, "session-ttl", 0, "emulator session TTL for the rollover scenario (default 10s, quick 4s)")
	fs.DurationVar(&c.rollBefore, "refresh-before", 0, "s3xproxy refresh_before for the rollover scenario (default 2s, quick 1s)")
	fs.DurationVar(&c.rollDur, "rollover-duration", 0, "rollover traffic duration (default 60s, quick 8s)")
	fs.IntVar(&c.rollConc, "rollover-conc", 32, "rollover and many-bucket concurrency")
	fs.IntVar(&c.buckets, "buckets", 0, "many-bucket scenario bucket count (default 2000, quick 200)")
	fs.IntVar(&c.bucketPasses, "bucket-passes", 2, "round-robin passes over the buckets")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	q := c.quick
	pick := func(full, quick string) string {
		if q {
			return quick
		}
		return full
	}
	var err error
	if largeSize == "" {
		largeSize = pick("1GiB", "64MiB")
	}
	if c.largeSize, err = parseSize(largeSize); err != nil {
		return nil, err
	}
	if tlsLarge == "" {
		c.tlsLarge = c.largeSize
	} else if c.tlsLarge, err = parseSize(tlsLarge); err != nil {
		return nil, err
	}
	if c.smallSize, err = parseSize(smallSize); err != nil {
		return nil, err
	}
	if sweep == "" {
		sweep = "4KiB,1MiB,64MiB," + largeSize
	}
	for _, s := range strings.Split(sweep, ",") {
		n, err := parseSize(s)
		if err != nil {
			return nil, err
		}
		if !containsSize(c.sweepSizes, n) {
			c.sweepSizes = append(c.sweepSizes, n)
		}
	}
	slices.Sort(c.sweepSizes)
	if c.largeConc, err = parseInts(largeConc); err != nil {
		return nil, err
	}
	if c.smallConc, err = parseInts(smallConc); err != nil {
		return nil, err
	}
	defInt := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if q {
				*v = quick
			}
		}
	}
	defDur := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if q {
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
	if c.rollBefore >= c.rollTTL {
		return nil, fmt.Errorf("--refresh-before %s must be shorter than --session-ttl %s", c.rollBefore, c.rollTTL)
	}
	c.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !containsStr(scenarioNames, s) {
			return nil, fmt.Errorf("--only: unknown scenario %q (have %s)", s, strings.Join(scenarioNames, ","))
		}
		c.only[s] = true
	}
	return c, nil
}

// enabled reports whether scenario s runs.
func (c *config) enabled(s string) bool { return len(c.only) == 0 || c.only[s] }

func run(cfg *config) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, cfg.timeout)
	defer cancelT()

	var err error
	if cfg.root, err = moduleRoot(); err != nil {
		return err
	}
	if cfg.self, err = os.Executable(); err != nil {
		return err
	}
	if cfg.workDir, err = os.MkdirTemp("", "s3xbench-"); err != nil {
		return err
	}
	if cfg.keep {
		logf("work directory: %s", cfg.workDir)
	} else {
		defer os.RemoveAll(cfg.workDir)
	}
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	res := &Results{Started: time.Now().UTC(), Quick: cfg.quick, Machine: machine(cfg.root), Params: params(cfg)}
	if cfg.binFlag != "" {
		cfg.bin = cfg.binFlag
	} else {
		cfg.bin = filepath.Join(cfg.workDir, "s3xproxy")
		logf("building s3xproxy")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", cfg.bin, "./cmd/s3xproxy")
		cmd.Dir = cfg.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	// Precompute the payload hashes (1 GiB streams through SHA-256 once).
	patternSHA256(cfg.largeSize)
	patternSHA256(cfg.tlsLarge)
	patternSHA256(cfg.smallSize)

	step := func(name string, fn func() error) {
		if ctx.Err() != nil || !cfg.enabled(name) {
			return
		}
		t0 := time.Now()
		logf("scenario %s", name)
		if err := fn(); err != nil {
			logf("scenario %s failed: %v", name, err)
			res.Notes = append(res.Notes, fmt.Sprintf("scenario %s failed: %s", name, firstLines(err.Error(), 3)))
		}
		logf("scenario %s took %s", name, time.Since(t0).Round(time.Second))
		if cfg.jsonFile != "" { // keep what we have if a later scenario crashes
			res.Targets = evaluate(res)
			if err := writeJSON(cfg.jsonFile, res); err != nil {
				logf("write %s: %v", cfg.jsonFile, err)
			}
		}
	}
	if cfg.enabled("large") || cfg.enabled("small") || cfg.enabled("sweep") {
		e, err := startEnv(cfg, envOptions{name: "plain"})
		if err != nil {
			res.Notes = append(res.Notes, "plain environment failed to start: "+firstLines(err.Error(), 4))
			logf("%v", err)
		} else {
			if !e.pprofAvailable && cfg.pprofDir != "" {
				res.Notes = append(res.Notes, "s3xproxy admin /debug/pprof not reachable; no profiles captured")
			}
			step("large", func() error { return runLarge(ctx, cfg, e, res) })
			step("small", func() error { return runSmall(ctx, cfg, e, res) })
			step("sweep", func() error { return runSweep(ctx, cfg, e, res) })
			e.stop()
		}
	}
	step("rollover", func() error { return runRollover(ctx, cfg, res) })
	step("buckets", func() error { return runBuckets(ctx, cfg, res) })
	step("tls", func() error { return runTLS(ctx, cfg, res) })
	step("micro", func() error { return runMicro(ctx, cfg, res) })
	if ctx.Err() != nil {
		res.Notes = append(res.Notes, "run stopped early: "+ctx.Err().Error())
	}

	res.Finished = time.Now().UTC()
	res.Machine.LoadAvgEnd = loadAvg()
	res.Targets = evaluate(res)
	printTables(os.Stdout, res)
	return writeOutputs(cfg, res)
}

// runTLS is scenario 5: scenarios 1 and 2 with the emulator serving HTTPS.
func runTLS(ctx context.Context, cfg *config, res *Results) error {
	e, err := startEnv(cfg, envOptions{name: "tls", tls: true})
	if err != nil {
		return err
	}
	defer e.stop()
	c2 := *cfg
	c2.largeSize = cfg.tlsLarge
	c2.largeRounds = cfg.tlsRounds
	if err := runLarge(ctx, &c2, e, res); err != nil {
		return err
	}
	return runSmall(ctx, &c2, e, res)
}

func writeOutputs(cfg *config, res *Results) error {
	if cfg.jsonFile != "" {
		if err := writeJSON(cfg.jsonFile, res); err != nil {
			return err
		}
		logf("wrote %s", cfg.jsonFile)
	}
	chartRef := ""
	if cfg.chartFile != "" {
		if err := writeChart(cfg.chartFile, res); err != nil {
			return err
		}
		logf("wrote %s", cfg.chartFile)
		chartRef = cfg.chartFile
		if cfg.mdFile != "" {
			if rel, err := filepath.Rel(filepath.Dir(absPath(cfg.mdFile)), absPath(cfg.chartFile)); err == nil {
				chartRef = filepath.ToSlash(rel)
			}
		}
	}
	if cfg.mdFile != "" {
		if err := writeMarkdown(cfg.mdFile, chartRef, res); err != nil {
			return err
		}
		logf("wrote %s", cfg.mdFile)
	}
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func params(cfg *config) Params {
	return Params{LargeSize: cfg.largeSize, LargeRounds: cfg.largeRounds, TLSLargeSize: cfg.tlsLarge, TLSRounds: cfg.tlsRounds,
		SmallSize:   cfg.smallSize,
		SmallWindow: cfg.smallWindow.String(), SmallRounds: cfg.smallRounds, SweepSizes: cfg.sweepSizes,
		SweepWindow: cfg.sweepWindow.String(), RolloverTTL: cfg.rollTTL.String(), RolloverBefore: cfg.rollBefore.String(),
		RolloverDur: cfg.rollDur.String(), RolloverConc: cfg.rollConc, Buckets: cfg.buckets,
		BucketPasses: cfg.bucketPasses, AccessLog: cfg.accessLog}
}

// machine describes the host: CPUs, model, Go version, kernel, load.
func machine(root string) Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvg: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// moduleRoot returns the directory holding s3xproxy's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run the harness from inside the s3xproxy module")
	}
	return filepath.Dir(mod), nil
}

// logf prints a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}
