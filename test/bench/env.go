package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// envOptions describes one emulator + proxy + bare hop set.
type envOptions struct {
	name          string
	tls           bool
	sessionTTL    time.Duration // emulator session lifetime; 0 = emulator default
	buckets       int           // buckets pre-created in the emulator
	refreshBefore time.Duration // proxy sessions.refresh_before; 0 = proxy default
	createRate    float64       // proxy sessions.create_rate; 0 = proxy default
	createBurst   int
	maxEntries    int
	noBare        bool
}

// env is a running emulator, proxy and bare hop, each a separate process on
// loopback, plus one client per path.
type env struct {
	opts                envOptions
	emu, proxy, bare    *proc
	emuAddr, emuAdmin   string
	proxyAddr, proxyAdm string
	bareAddr            string
	caFile              string
	clients             map[pathKind]*client
	dir                 string
	// pprofAvailable: s3xproxy's admin listener serves /debug/pprof.
	pprofAvailable bool
}

// startEnv starts an environment. cfg supplies the binary, the log directory
// and the harness's own executable for the bare hop.
func startEnv(cfg *config, o envOptions) (*env, error) {
	dir, err := os.MkdirTemp(cfg.workDir, o.name+"-")
	if err != nil {
		return nil, err
	}
	addrs, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	e := &env{opts: o, dir: dir,
		emuAddr: addrs[0], emuAdmin: addrs[1], proxyAddr: addrs[2], proxyAdm: addrs[3], bareAddr: addrs[4]}
	ok := false
	defer func() {
		if !ok {
			e.stop()
		}
	}()

	args := []string{"emulator", "--listen", e.emuAddr, "--admin-listen", e.emuAdmin,
		"--credentials", iamKey + ":" + iamSecret, "--storage", "discard"}
	if o.sessionTTL > 0 {
		args = append(args, "--session-ttl", o.sessionTTL.String())
	}
	for i := 0; i < max(o.buckets, 1); i++ {
		args = append(args, "--bucket", bucketName(i))
	}
	if o.tls {
		e.caFile = filepath.Join(dir, "ca.pem")
		args = append(args, "--tls-self-signed", e.caFile)
	}
	if e.emu, err = startProc(o.name+"-emulator", cfg.bin, args, dir); err != nil {
		return nil, err
	}
	if err := e.emu.waitReady(30*time.Second, func() error {
		if err := tcpProbe(e.emuAddr)(); err != nil {
			return err
		}
		if o.tls {
			if _, err := os.Stat(e.caFile); err != nil {
				return err
			}
		}
		return tcpProbe(e.emuAdmin)()
	}); err != nil {
		return nil, err
	}

	cfgFile := filepath.Join(dir, "s3xproxy.yaml")
	if err := os.WriteFile(cfgFile, []byte(e.proxyConfig(cfg)), 0o600); err != nil {
		return nil, err
	}
	if e.proxy, err = startProc(o.name+"-s3xproxy", cfg.bin, []string{"serve", "--config", cfgFile}, dir); err != nil {
		return nil, err
	}
	if err := e.proxy.waitReady(30*time.Second, tcpProbe(e.proxyAddr)); err != nil {
		return nil, err
	}
	// The admin listener may come up a moment after the data listener; it
	// is optional (metrics and profiles only), so its absence is not fatal.
	if e.proxy.waitReady(5*time.Second, tcpProbe(e.proxyAdm)) == nil {
		e.pprofAvailable = httpGetOK("http://" + e.proxyAdm + "/debug/pprof/cmdline")
	}

	if !o.noBare {
		scheme := "http"
		if o.tls {
			scheme = "https"
		}
		bargs := []string{"--bare-hop", e.bareAddr, scheme + "://" + e.emuAddr}
		if o.tls {
			bargs = append(bargs, "--bare-hop-ca", e.caFile)
		}
		if e.bare, err = startProc(o.name+"-barehop", cfg.self, bargs, dir); err != nil {
			return nil, err
		}
		if err := e.bare.waitReady(30*time.Second, tcpProbe(e.bareAddr)); err != nil {
			return nil, err
		}
	}
	if err := e.makeClients(cfg); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// proxyConfig renders the generated s3xproxy YAML for this environment.
func (e *env) proxyConfig(cfg *config) string {
	o := e.opts
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  listen: %q\n", e.proxyAddr)
	fmt.Fprintf(&b, "admin:\n  listen: %q\n  pprof: true\n", e.proxyAdm)
	fmt.Fprintf(&b, "log:\n  level: warn\n  format: json\n  access_log: %v\n", cfg.accessLog)
	fmt.Fprintf(&b, "upstream:\n  region: %s\n  dial_address: %q\n", region, e.emuAddr)
	if o.tls {
		fmt.Fprintf(&b, "  scheme: https\n  ca_file: %q\n", e.caFile)
	} else {
		b.WriteString("  scheme: http\n")
	}
	if cfg.maxIdle > 0 {
		fmt.Fprintf(&b, "  max_idle_conns: %d\n  max_idle_conns_per_host: %d\n", cfg.maxIdle, min(cfg.maxIdle, 256))
	}
	fmt.Fprintf(&b, "  credentials:\n    access_key_id: %s\n    secret_access_key: %s\n", iamKey, iamSecret)
	b.WriteString("sessions:\n  mode: auto\n")
	if o.refreshBefore > 0 {
		fmt.Fprintf(&b, "  refresh_before: %s\n", o.refreshBefore)
	}
	if o.createRate > 0 {
		fmt.Fprintf(&b, "  create_rate: %g\n  create_burst: %d\n", o.createRate, o.createBurst)
	}
	if o.maxEntries > 0 {
		fmt.Fprintf(&b, "  max_entries: %d\n", o.maxEntries)
	}
	if cfg.replayBuf != "" {
		fmt.Fprintf(&b, "retry:\n  replay_buffer: %s\n", cfg.replayBuf)
	}
	if cfg.md5ETags != "" {
		fmt.Fprintf(&b, "compat:\n  md5_etags: %s\n", cfg.md5ETags)
	}
	b.WriteString("auth:\n  credentials:\n")
	fmt.Fprintf(&b, "    - access_key_id: %s\n      secret_access_key: %s\n      buckets: [\"*\"]\n      access: read-write\n",
		legacyKey, legacySecret)
	return b.String()
}

func (e *env) makeClients(cfg *config) error {
	var pool *x509.CertPool
	scheme := "http"
	if e.opts.tls {
		var err error
		if pool, err = loadCA(e.caFile); err != nil {
			return err
		}
		scheme = "https"
	}
	const conns = 128
	sessHC := &http.Client{Transport: newTransport(e.emuAddr, pool, 4), Timeout: 30 * time.Second}
	sess := &sessions{hc: sessHC, scheme: scheme, signer: newSigner()}
	e.clients = map[pathKind]*client{
		pathDirect: {kind: pathDirect, scheme: scheme, sess: sess, signer: newSigner(),
			hc: &http.Client{Transport: newTransport(e.emuAddr, pool, conns)}},
		pathProxy: {kind: pathProxy, proxy: e.proxyAddr, signer: newSigner(),
			hc: &http.Client{Transport: newTransport(e.proxyAddr, nil, conns)}},
	}
	if e.bare != nil {
		// The client speaks plain HTTP to the hop, as it does to s3xproxy.
		e.clients[pathBare] = &client{kind: pathBare, scheme: "http", sess: sess, signer: newSigner(),
			hc: &http.Client{Transport: newTransport(e.bareAddr, nil, conns)}}
	}
	return nil
}

// hopPID returns the process id of the hop on path k (0 for direct).
func (e *env) hopPID(k pathKind) int {
	switch k {
	case pathBare:
		if e.bare != nil {
			return e.bare.pid()
		}
	case pathProxy:
		return e.proxy.pid()
	}
	return 0
}

// stop ends every process of the environment.
func (e *env) stop() {
	for _, c := range e.clients {
		if t, ok := c.hc.Transport.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
	}
	e.bare.stop()
	e.proxy.stop()
	e.emu.stop()
}

func httpGetOK(url string) bool {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// emuStats fetches the emulator's admin /stats document.
func (e *env) emuStats() (map[string]any, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + e.emuAdmin + "/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator /stats: %s", resp.Status)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("emulator /stats: %w", err)
	}
	return m, nil
}

// createSessions returns the emulator's CreateSession count, total and per
// "bucket/mode" key.
func (e *env) createSessions() (int, map[string]int, error) {
	m, err := e.emuStats()
	if err != nil {
		return 0, nil, err
	}
	return parseCreateSessions(m)
}

// proxyMetric returns the sum of the samples of a Prometheus metric from
// s3xproxy's admin /metrics, and whether it was found.
func (e *env) proxyMetric(name string) (float64, bool) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + e.proxyAdm + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var sum float64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		n, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if base, _, _ := strings.Cut(n, "{"); base != name {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			sum += f
			found = true
		}
	}
	return sum, found
}

// profile captures a CPU profile of s3xproxy for d into file, through the
// admin listener's /debug/pprof (admin.pprof: true). It runs in the
// background; wait on the returned channel.
func (e *env) profile(ctx context.Context, d time.Duration, file string) <-chan error {
	ch := make(chan error, 1)
	if !e.pprofAvailable {
		ch <- fmt.Errorf("pprof not available on %s", e.proxyAdm)
		return ch
	}
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", e.proxyAdm, max(1, int(d.Seconds())))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(file)
		if err != nil {
			ch <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		ch <- err
	}()
	return ch
}
