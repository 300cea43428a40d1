package session

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Admission: which CreateSession calls may go upstream, and when.
//
// A call a client's Get needs passes two token buckets in turn: the
// client's own (CreateRatePerClient, CreateBurstPerClient), then the global
// one (CreateRate, CreateBurst), with at most CreateWait of waiting in all.
// A client over its own budget is refused at once, before the global bucket
// is touched, so it neither spends global tokens nor queues in front of
// anyone. A client may hold at most maxQueuedPerClient waiting reservations
// on the global bucket: a waiting reservation takes a future token, so
// without this cap one client's many waiters would queue in front of every
// other client's first call. With it, a client that finds the global bucket
// empty waits behind at most one reservation per other client.
//
// Joining a call in flight takes no token. A background refresh takes no
// client token (it serves whoever uses the session, and there is at most
// one per live session per lifetime) and only a global one, without the
// per-client cap.

// maxQueuedPerClient is how many of one client's calls may wait for a
// global token at a time.
const maxQueuedPerClient = 1

// admit is how one call is admitted: for whom, and what was already
// decided at Get time.
type admit struct {
	client  *client       // nil: a refresh, or a Get without a client
	delay   time.Duration // until the client's own token is due
	limited bool          // the global queue cap applies (client != nil)
}

// admission holds the clients' token buckets. It is safe for concurrent
// use.
type admission struct {
	global     *rate.Limiter
	rate       rate.Limit // per client
	burst      int        // per client
	wait       time.Duration
	maxClients int

	mu      sync.Mutex // guards clients, lru, last and every client's fields
	clients map[string]*client
	lru     list.List // of *client, most recently used at the front
	// last is the latest time handed to a limiter. Callers read the clock
	// before taking mu, so their times can arrive out of order; a
	// rate.Limiter handed a time before its last one moves its clock back
	// and counts the same interval's tokens twice.
	last time.Time
}

// client is one client's admission state; its fields are guarded by
// admission.mu (lim is safe on its own).
type client struct {
	name   string
	elem   *list.Element
	lim    *rate.Limiter
	queued int // this client's calls waiting for a global token
}

func newAdmission(o Options) *admission {
	a := &admission{
		global:     rate.NewLimiter(rate.Limit(o.CreateRate), o.CreateBurst),
		rate:       rate.Limit(o.CreateRatePerClient),
		burst:      o.CreateBurstPerClient,
		wait:       o.CreateWait,
		maxClients: o.MaxClients,
		clients:    make(map[string]*client),
	}
	a.lru.Init()
	return a
}

// reserveClient takes a token from name's own bucket at now and returns
// the client and how long until the token is due; ErrClientThrottled when
// that is more than CreateWait away (nothing is taken then).
func (a *admission) reserveClient(name string, now time.Time) (*client, time.Duration, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now = a.monotonic(now)
	cl := a.lookup(name, now)
	r := cl.lim.ReserveN(now, 1)
	if !r.OK() {
		return nil, 0, ErrClientThrottled
	}
	d := r.DelayFrom(now)
	if d > a.wait {
		r.CancelAt(now)
		return nil, 0, ErrClientThrottled
	}
	return cl, d, nil
}

// lookup returns name's client, creating it, and drops clients beyond
// maxClients and idle ones: a client whose bucket is full again and that
// waits for nothing is the same as a new one. a.mu is held.
func (a *admission) lookup(name string, now time.Time) *client {
	cl, ok := a.clients[name]
	if ok {
		a.lru.MoveToFront(cl.elem)
	} else {
		cl = &client{name: name, lim: rate.NewLimiter(a.rate, a.burst)}
		cl.elem = a.lru.PushFront(cl)
		a.clients[name] = cl
	}
	for el := a.lru.Back(); el != nil && el != cl.elem; el = a.lru.Back() {
		old := el.Value.(*client)
		idle := old.queued == 0 && old.lim.TokensAt(now) >= float64(a.burst)
		if !idle && a.lru.Len() <= a.maxClients {
			break
		}
		a.lru.Remove(el)
		delete(a.clients, old.name)
	}
	return cl
}

// reserveGlobal takes a global token at now for a call admitted as ad and
// returns how long until it is due, at most budget; ErrThrottled when it
// is further away, or when ad's client already waits for one (nothing is
// taken then). A positive delay counts as one of the client's queued calls
// until release.
func (a *admission) reserveGlobal(ad admit, now time.Time, budget time.Duration) (time.Duration, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now = a.monotonic(now)
	r := a.global.ReserveN(now, 1)
	if !r.OK() {
		return 0, ErrThrottled
	}
	d := r.DelayFrom(now)
	if d > budget || (d > 0 && ad.limited && ad.client.queued >= maxQueuedPerClient) {
		r.CancelAt(now)
		return 0, ErrThrottled
	}
	if d > 0 && ad.limited {
		ad.client.queued++
	}
	return d, nil
}

// monotonic returns now, or the latest time already used if that is
// later. a.mu is held.
func (a *admission) monotonic(now time.Time) time.Time {
	if now.Before(a.last) {
		return a.last
	}
	a.last = now
	return now
}

// release ends the wait reserveGlobal counted for ad.
func (a *admission) release(ad admit) {
	a.mu.Lock()
	ad.client.queued--
	a.mu.Unlock()
}

// len returns how many clients have state (for tests).
func (a *admission) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lru.Len()
}
