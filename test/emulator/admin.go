package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) add(n int64) int64 { return c.v.Add(n) }

// counterSet is a map of named counters safe for concurrent use without a
// lock on the hot path.
type counterSet struct{ m sync.Map } // string -> *atomic.Int64

func (c *counterSet) inc(k string) {
	v, ok := c.m.Load(k)
	if !ok {
		v, _ = c.m.LoadOrStore(k, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *counterSet) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n != 0 {
			out[k.(string)] = n
		}
		return true
	})
	return out
}

func (c *counterSet) reset() { c.m.Clear() }

type statsRecorder struct {
	requests, session, iam, createSessions, rejections counterSet
}

// Stats are request counters since start or the last ResetStats.
type Stats struct {
	Requests        map[string]int64 `json:"requests"`         // by S3 operation name (PutObject, GetObject, CreateSession, ListObjectsV2, ...)
	SessionRequests map[string]int64 `json:"session_requests"` // by operation, those signed with session credentials
	IAMRequests     map[string]int64 `json:"iam_requests"`     // by operation, those signed with IAM credentials
	CreateSessions  map[string]int64 `json:"create_sessions"`  // by "bucket/Mode" (Mode ReadOnly|ReadWrite)
	Rejections      map[string]int64 `json:"rejections"`       // by S3 error code
}

// Stats returns a copy of the counters (maps are never nil).
func (e *Emulator) Stats() Stats {
	s := &e.stats
	return Stats{
		Requests:        s.requests.snapshot(),
		SessionRequests: s.session.snapshot(),
		IAMRequests:     s.iam.snapshot(),
		CreateSessions:  s.createSessions.snapshot(),
		Rejections:      s.rejections.snapshot(),
	}
}

// ResetStats zeroes every counter.
func (e *Emulator) ResetStats() {
	s := &e.stats
	s.requests.reset()
	s.session.reset()
	s.iam.reset()
	s.createSessions.reset()
	s.rejections.reset()
}

// Faults is a fault plan. SetFaults replaces the current plan; counters
// (FailCreateSession, ResetCount) count down as faults fire.
type Faults struct {
	FailCreateSession       int           `json:"fail_create_session"`        // fail the next N CreateSession calls ...
	FailCreateSessionStatus int           `json:"fail_create_session_status"` // ... with this status (default 403)
	FailCreateSessionCode   string        `json:"fail_create_session_code"`   // ... and code (default AccessDenied)
	Latency                 time.Duration `json:"latency"`                    // added to every S3 request
	ResetAfterBytes         int64         `json:"reset_after_bytes"`          // with ResetCount: reset the connection after K request-body bytes
	ResetCount              int           `json:"reset_count"`                //   for the next N requests that have a body
	SlowDownProbability     float64       `json:"slow_down_probability"`      // answer 503 SlowDown with probability p

	// Faults of issue 16's matrix.
	ResponseResetAfterBytes int64         `json:"response_reset_after_bytes"` // with ResponseResetCount: reset after K response-body bytes
	ResponseResetCount      int           `json:"response_reset_count"`       //   for the next N GetObject responses
	CreateSessionLatency    time.Duration `json:"create_session_latency"`     // added to every CreateSession only
	MalformedCreateSession  int           `json:"malformed_create_session"`   // answer the next N CreateSession calls 200 with broken XML
	DataSlowDown            int           `json:"data_slow_down"`             // answer the next N non-CreateSession requests 503 SlowDown
	ClockSkew               time.Duration `json:"clock_skew"`                 // added to the emulator's clock for signature time checks
}

type faultState struct {
	active atomic.Bool // fast path: false when the plan is empty
	mu     sync.Mutex
	f      Faults // guarded by mu
}

// SetFaults installs a fault plan (the zero Faults clears it).
func (e *Emulator) SetFaults(f Faults) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	if f.FailCreateSessionStatus == 0 {
		f.FailCreateSessionStatus = http.StatusForbidden
	}
	if f.FailCreateSessionCode == "" {
		f.FailCreateSessionCode = "AccessDenied"
	}
	e.faults.f = f
	e.faults.active.Store(f != Faults{FailCreateSessionStatus: http.StatusForbidden, FailCreateSessionCode: "AccessDenied"})
}

// Faults returns the current fault plan with its remaining counts.
func (e *Emulator) Faults() Faults {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	return e.faults.f
}

// takeCreateSessionFault consumes one CreateSession failure, if armed.
func (e *Emulator) takeCreateSessionFault() *s3Error {
	if !e.faults.active.Load() {
		return nil
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	f := &e.faults.f
	if f.FailCreateSession <= 0 {
		return nil
	}
	f.FailCreateSession--
	return newErr(f.FailCreateSessionStatus, f.FailCreateSessionCode, "Injected CreateSession failure")
}

// requestFaults returns the latency to add, whether to answer SlowDown and,
// for a request with a body, after how many bytes to reset (-1: never).
func (e *Emulator) requestFaults(hasBody, isCreateSession bool) (time.Duration, bool, int64) {
	if !e.faults.active.Load() {
		return 0, false, -1
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	f := &e.faults.f
	reset := int64(-1)
	if hasBody && f.ResetCount > 0 && !isCreateSession {
		f.ResetCount--
		reset = f.ResetAfterBytes
	}
	slow := f.SlowDownProbability > 0 && rand.Float64() < f.SlowDownProbability
	if !isCreateSession && f.DataSlowDown > 0 {
		f.DataSlowDown--
		slow = true
	}
	lat := f.Latency
	if isCreateSession && f.CreateSessionLatency > 0 {
		lat += f.CreateSessionLatency
		e.stats.rejections.inc("SlowCreateSession") // counted on arrival: the caller may give up
	}
	return lat, slow, reset
}

// clockSkew is the offset added to the emulator's clock.
func (e *Emulator) clockSkew() time.Duration {
	if !e.faults.active.Load() {
		return 0
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	return e.faults.f.ClockSkew
}

// takeResponseReset consumes one GetObject response reset: the number of
// body bytes to send before resetting, or -1.
func (e *Emulator) takeResponseReset() int64 {
	if !e.faults.active.Load() {
		return -1
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	f := &e.faults.f
	if f.ResponseResetCount <= 0 {
		return -1
	}
	f.ResponseResetCount--
	return f.ResponseResetAfterBytes
}

// takeMalformedCreateSession consumes one malformed CreateSession answer.
func (e *Emulator) takeMalformedCreateSession() bool {
	if !e.faults.active.Load() {
		return false
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	f := &e.faults.f
	if f.MalformedCreateSession <= 0 {
		return false
	}
	f.MalformedCreateSession--
	return true
}

// faultsJSON accepts latency as a Go duration string ("50ms") or
// nanoseconds.
type faultsJSON struct {
	Faults
	Latency              json.RawMessage `json:"latency"`
	CreateSessionLatency json.RawMessage `json:"create_session_latency"`
	ClockSkew            json.RawMessage `json:"clock_skew"`
}

// decodeDuration reads a Go duration string or nanoseconds into d.
func decodeDuration(name string, raw json.RawMessage, d *time.Duration) error {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("faults: %s: %w", name, err)
		}
		*d = v
		return nil
	}
	if err := json.Unmarshal(raw, d); err != nil {
		return fmt.Errorf("faults: %s: %w", name, err)
	}
	return nil
}

func decodeFaults(r io.Reader) (Faults, error) {
	var fj faultsJSON
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return Faults{}, fmt.Errorf("faults: %w", err)
	}
	f := fj.Faults
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  *time.Duration
	}{{"latency", fj.Latency, &f.Latency}, {"create_session_latency", fj.CreateSessionLatency, &f.CreateSessionLatency}, {"clock_skew", fj.ClockSkew, &f.ClockSkew}} {
		if err := decodeDuration(d.name, d.raw, d.dst); err != nil {
			return Faults{}, err
		}
	}
	if f.SlowDownProbability < 0 || f.SlowDownProbability > 1 || f.Latency < 0 || f.FailCreateSession < 0 || f.ResetCount < 0 ||
		f.ResponseResetCount < 0 || f.MalformedCreateSession < 0 || f.DataSlowDown < 0 || f.CreateSessionLatency < 0 {
		return Faults{}, fmt.Errorf("faults: negative count or probability outside [0,1]")
	}
	return f, nil
}

func (e *Emulator) newAdminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, e.Stats())
	})
	mux.HandleFunc("POST /stats/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sessions/expire", func(w http.ResponseWriter, r *http.Request) {
		e.ExpireSessions()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, e.Faults())
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := decodeFaults(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.SetFaults(f)
		writeJSON(w, e.Faults())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
