// Command bench is s3xproxy's benchmark harness.
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
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
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
