package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// Limits is a snapshot of the gateway's client limits (see
// gateway.LimitStats; this package does not import the gateway).
type Limits struct {
	Connections, InFlight                 int64
	RejectedConnections, RejectedRequests uint64
}

// memoryCollectors reads the replay budget and the client limits when
// scraped. Either source may be unset (its series read 0).
type memoryCollectors struct {
	budget atomic.Pointer[proxy.ReplayBudget]
	limits atomic.Pointer[func() Limits]
}

func (mc *memoryCollectors) snapshot() (b *proxy.ReplayBudget, l Limits) {
	if f := mc.limits.Load(); f != nil {
		l = (*f)()
	}
	return mc.budget.Load(), l
}

// register creates the collectors on reg.
func (mc *memoryCollectors) register(reg *prometheus.Registry) {
	budget := func(f func(*proxy.ReplayBudget) float64) func() float64 {
		return func() float64 {
			if b, _ := mc.snapshot(); b != nil {
				return f(b)
			}
			return 0
		}
	}
	limit := func(f func(Limits) float64) func() float64 {
		return func() float64 { _, l := mc.snapshot(); return f(l) }
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "replay_budget_bytes",
			Help: "Limit of the process-wide replay budget (retry.replay_budget).",
		}, budget(func(b *proxy.ReplayBudget) float64 { return float64(b.Limit()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "replay_budget_in_use_bytes",
			Help: "Replay-buffer bytes reserved by requests in flight.",
		}, budget(func(b *proxy.ReplayBudget) float64 { return float64(b.InUse()) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "replay_budget_denied_total",
			Help: "Requests (or body segments of unknown length) refused replay budget: streamed without a replay buffer.",
		}, budget(func(b *proxy.ReplayBudget) float64 { return float64(b.Denied()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "client_connections",
			Help: "Client connections open (counted only under server.max_connections).",
		}, limit(func(l Limits) float64 { return float64(l.Connections) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "requests_in_flight",
			Help: "Client requests in progress (counted only under server.max_in_flight).",
		}, limit(func(l Limits) float64 { return float64(l.InFlight) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "connections_rejected_total",
			Help: "Client connections refused over server.max_connections.",
		}, limit(func(l Limits) float64 { return float64(l.RejectedConnections) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "requests_rejected_total",
			Help: "Client requests answered 503 SlowDown over server.max_in_flight.",
		}, limit(func(l Limits) float64 { return float64(l.RejectedRequests) })),
	)
}

// SetReplayBudget makes the replay_budget_* series read b (nil: 0).
func (m *Metrics) SetReplayBudget(b *proxy.ReplayBudget) { m.memory.budget.Store(b) }

// SetLimits makes the client-limit series read f (nil: 0).
func (m *Metrics) SetLimits(f func() Limits) {
	if f == nil {
		m.memory.limits.Store(nil)
		return
	}
	m.memory.limits.Store(&f)
}
