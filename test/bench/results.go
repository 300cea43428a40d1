package main

import "time"

// Results is every figure one harness run produced; --json writes it.
type Results struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Quick    bool      `json:"quick"`
	Machine  Machine   `json:"machine"`
	Params   Params    `json:"params"`
	Large    []Large   `json:"large,omitempty"`
	Small    []Small   `json:"small,omitempty"`
	Sweep    []Sweep   `json:"sweep,omitempty"`
	Rollover *Rollover `json:"rollover,omitempty"`
	Buckets  *Buckets  `json:"buckets,omitempty"`
	Micro    []Micro   `json:"micro,omitempty"`
	Targets  []Target  `json:"targets"`
	Profiles []string  `json:"profiles,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	NProc      int    `json:"nproc"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	Kernel     string `json:"kernel"`
	LoadAvg    string `json:"loadavg_at_start"`
	LoadAvgEnd string `json:"loadavg_at_end"`
	Commit     string `json:"commit,omitempty"`
}

// Params are the sizes and durations the run used.
type Params struct {
	LargeSize      int64   `json:"large_size"`
	LargeRounds    int     `json:"large_rounds"`
	TLSLargeSize   int64   `json:"tls_large_size"`
	TLSRounds      int     `json:"tls_rounds"`
	SmallSize      int64   `json:"small_size"`
	SmallWindow    string  `json:"small_window"`
	SmallRounds    int     `json:"small_rounds"`
	SweepSizes     []int64 `json:"sweep_sizes"`
	SweepWindow    string  `json:"sweep_window"`
	RolloverTTL    string  `json:"rollover_session_ttl"`
	RolloverBefore string  `json:"rollover_refresh_before"`
	RolloverDur    string  `json:"rollover_duration"`
	RolloverConc   int     `json:"rollover_concurrency"`
	Buckets        int     `json:"buckets"`
	BucketPasses   int     `json:"bucket_passes"`
	AccessLog      bool    `json:"proxy_access_log"`
}

// PathFigures are one path's figures in one scenario cell.
type PathFigures struct {
	Path    string  `json:"path"`
	Ops     int     `json:"ops"`
	Errors  int     `json:"errors"`
	Error   string  `json:"error,omitempty"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s,omitempty"`
	RPS     float64 `json:"req_per_s,omitempty"`
	P50us   float64 `json:"p50_us,omitempty"`
	P99us   float64 `json:"p99_us,omitempty"`
	P999us  float64 `json:"p999_us,omitempty"`
	// HopCPUs is the CPU the hop process (bare hop or s3xproxy) used.
	HopCPUs float64 `json:"hop_cpu_s,omitempty"`
	// HopCPUPerGiB is hop CPU seconds per GiB moved (large objects).
	HopCPUPerGiB float64 `json:"hop_cpu_s_per_gib,omitempty"`
	// HopCPUPerReq is hop CPU µs per request (small objects).
	HopCPUPerReq float64 `json:"hop_cpu_us_per_req,omitempty"`
	// HopCtxSwPerReq is the hop's context switches (all threads) per
	// request (small objects).
	HopCtxSwPerReq float64 `json:"hop_ctxsw_per_req,omitempty"`
	EmuCPUs        float64 `json:"emulator_cpu_s"`
	// HopPeakRSS is the hop's VmHWM during the cell (reset before it);
	// HopPeakRSSSampled the maximum VmRSS seen by 20 ms sampling.
	HopPeakRSS        int64     `json:"hop_peak_rss_bytes,omitempty"`
	HopPeakRSSSampled int64     `json:"hop_peak_rss_sampled_bytes,omitempty"`
	Rounds            []float64 `json:"rounds"`
	// RoundP50us is the p50 latency of each round (small cells).
	RoundP50us []float64 `json:"round_p50_us,omitempty"`
}

// Spread summarises one figure over a cell's interleaved rounds: the
// median decides PASS or MISS, the range shows how close to the line the
// cell sits.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Rounds []float64 `json:"rounds"`
}

// Large is one cell of scenario 1 (or 5 when TLS).
type Large struct {
	TLS         bool          `json:"tls"`
	Op          string        `json:"op"`
	Payload     string        `json:"payload"`
	Conc        int           `json:"concurrency"`
	Size        int64         `json:"size"`
	Paths       []PathFigures `json:"paths"`
	RatioBare   float64       `json:"ratio_s3xproxy_bare"`
	RatioDirect float64       `json:"ratio_s3xproxy_direct"`
	// RoundRatios is s3xproxy/bare MB/s per round.
	RoundRatios Spread `json:"round_ratios_s3xproxy_bare"`
}

// Small is one cell of scenario 2 (or 5 when TLS).
type Small struct {
	TLS       bool          `json:"tls"`
	Op        string        `json:"op"`
	Conc      int           `json:"concurrency"`
	Size      int64         `json:"size"`
	Paths     []PathFigures `json:"paths"`
	AddedP50  float64       `json:"added_p50_us"`
	AddedP99  float64       `json:"added_p99_us"`
	AddedP999 float64       `json:"added_p999_us"`
	RatioBare float64       `json:"ratio_rps_s3xproxy_bare"`
	// RoundRatios is s3xproxy/bare req/s per round; RoundAddedP50 is
	// s3xproxy's p50 minus the bare hop's, per round, in µs.
	RoundRatios   Spread `json:"round_ratios_rps_s3xproxy_bare"`
	RoundAddedP50 Spread `json:"round_added_p50_us"`
}

// Sweep is one point of the throughput-against-size chart.
type Sweep struct {
	Op    string             `json:"op"`
	Size  int64              `json:"size"`
	MBps  map[string]float64 `json:"mb_per_s"`
	Error string             `json:"error,omitempty"`
}

// Rollover is scenario 3.
type Rollover struct {
	SessionTTL     string    `json:"session_ttl"`
	RefreshBefore  string    `json:"refresh_before"`
	Duration       float64   `json:"duration_s"`
	Conc           int       `json:"concurrency"`
	Ops            int       `json:"ops"`
	Errors         int       `json:"errors"`
	Error          string    `json:"error,omitempty"`
	RPS            float64   `json:"req_per_s"`
	CreateSessions int       `json:"create_sessions"`
	Keys           int       `json:"session_keys"`
	Bound          float64   `json:"create_sessions_bound"`
	WindowP99us    []float64 `json:"window_p99_us"`
	MedianP99us    float64   `json:"median_window_p99_us"`
	MaxP99us       float64   `json:"max_window_p99_us"`
	MaxOverMedian  float64   `json:"max_over_median"`
	P50us          float64   `json:"p50_us"`
	P99us          float64   `json:"p99_us"`
}

// Buckets is scenario 4.
type Buckets struct {
	Buckets        int     `json:"buckets"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	Error          string  `json:"error,omitempty"`
	Seconds        float64 `json:"seconds"`
	RPS            float64 `json:"req_per_s"`
	CreateSessions int     `json:"create_sessions"`
	Bound          float64 `json:"create_sessions_bound"`
	CacheSize      float64 `json:"cache_size"`
	CacheMetric    string  `json:"cache_size_metric,omitempty"`
	RSSBefore      int64   `json:"rss_before_bytes"`
	RSSAfter       int64   `json:"rss_after_bytes"`
	RSSPerSession  float64 `json:"rss_per_session_bytes"`
	HeapPerSession float64 `json:"heap_inuse_per_session_bytes,omitempty"`
	// FDsBefore/After are s3xproxy's open file descriptors (client and
	// upstream sockets): each bucket is its own Zonal host, so its own
	// upstream connection pool, and connections weigh on RSS too.
	FDsBefore int `json:"open_fds_before"`
	FDsAfter  int `json:"open_fds_after"`
}

// Micro is one Go micro-benchmark line.
type Micro struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
}

// Target is one stated performance target and whether the run met it.
type Target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Status string `json:"status"` // PASS, MISS, or N/A
}
