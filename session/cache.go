package session

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultRefreshBefore = 60 * time.Second
	DefaultMaxEntries    = 10000
	DefaultIdleTTL       = 10 * time.Minute
	DefaultCreateRate    = 20
	DefaultCreateBurst   = 40
	DefaultCreateWait    = 2 * time.Second
	DefaultFailureTTL    = 5 * time.Second
	DefaultCreateTimeout = 10 * time.Second
	DefaultMaxClients    = 10000
	DefaultNegativeTTL   = 30 * time.Second
)

// maxHardMargin is how long before Expiration a session stops being handed
// out (the CRT's "expired" threshold, protocol notes §5.4): a request signed
// just before expiry may reach S3 after it. For short sessions the margin is
// clamped to a tenth of the lifetime (0.5 s for a 5 s session).
const maxHardMargin = 5 * time.Second

// Cache caches upstream sessions per Key. It is safe for concurrent use.
//
// Get runs at most one CreateSession per key at a time; the call itself runs
// in its own goroutine on a context detached from every caller
// (context.WithoutCancel plus CreateTimeout, cancelled by Close), so a
// caller that gives up never aborts it. A Get within the refresh window of a
// session returns it at once and starts one background refresh, so keys in
// use never wait on CreateSession after the first. Keys unused for IdleTTL
// are dropped (lazily, on Get and Len) and never refreshed. Every
// CreateSession is first admitted (admission.go): a GetFor takes a token
// from its client's own rate.Limiter and then from the global one, both
// reserved at Options.Now; when none is available within CreateWait the
// callers get ErrThrottled (not cached). A CreateSession answer that says
// the bucket cannot be used is remembered for NegativeTTL (negative.go);
// every other CreateSession error is cached for FailureTTL. Either is
// returned to every Get meanwhile.
//
// Memory: about 390 B per entry for the cache's own structures (entry, LRU
// element, map slot) plus the credential strings, about 1.5 KiB in all with
// a 1 KiB session token (TestMemoryPerEntry, 10k entries, amd64).
type Cache struct {
	creator Creator
	opts    Options
	adm     *admission

	ctx    context.Context // cancelled by Close; ends in-flight calls
	cancel context.CancelFunc
	wg     sync.WaitGroup // in-flight call goroutines

	mu       sync.Mutex // guards entries, lru, negative, closed and every entry's fields
	entries  map[Key]*entry
	lru      list.List // of *entry, most recently used at the front
	negative *negativeCache
	closed   bool
}

// entry is one key's state. Its fields are guarded by Cache.mu.
type entry struct {
	key      Key
	elem     *list.Element
	creds    Credentials // valid when hasCreds
	hasCreds bool
	issued   time.Time // when creds were stored, for the lifetime clamps
	err      error     // last CreateSession failure, returned until errUntil
	errUntil time.Time
	lastUsed time.Time
	call     *call // in-flight CreateSession, nil if none
}

// call is one CreateSession; done is closed after creds and err are set.
type call struct {
	done  chan struct{}
	creds Credentials
	err   error
}

// New returns a Cache over creator with opts' zero values replaced by the
// defaults. Call Close to stop in-flight background work.
func New(creator Creator, opts Options) *Cache {
	opts = withDefaults(opts)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		creator:  creator,
		opts:     opts,
		adm:      newAdmission(opts),
		ctx:      ctx,
		cancel:   cancel,
		entries:  make(map[Key]*entry),
		negative: newNegativeCache(opts.MaxEntries),
	}
	c.lru.Init()
	return c
}

// durationOrDefault is d, def when d is zero, and zero when d is negative
// (the way an Options field says "none", zero meaning "the default").
func durationOrDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func withDefaults(o Options) Options {
	if o.RefreshBefore <= 0 {
		o.RefreshBefore = DefaultRefreshBefore
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	if o.CreateRate <= 0 {
		o.CreateRate = DefaultCreateRate
	}
	if o.CreateBurst <= 0 {
		o.CreateBurst = DefaultCreateBurst
	}
	o.CreateWait = durationOrDefault(o.CreateWait, DefaultCreateWait)
	o.FailureTTL = durationOrDefault(o.FailureTTL, DefaultFailureTTL)
	if o.CreateRatePerClient <= 0 {
		o.CreateRatePerClient = o.CreateRate / 4
	}
	if o.CreateBurstPerClient <= 0 {
		o.CreateBurstPerClient = max(1, o.CreateBurst/4)
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.CreateTimeout <= 0 {
		o.CreateTimeout = DefaultCreateTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}

type nopObserver struct{}

func (nopObserver) CreateSession(string, Mode, string, time.Duration) {}
func (nopObserver) Throttled(time.Duration, bool)                     {}

// Get returns valid credentials for key, creating them if needed. ctx bounds
// only the caller's wait, never the CreateSession call itself, which keeps
// ctx's values but not its cancellation. Status is Hit, Miss (the caller
// waited for, or got the cached failure of, a CreateSession) or Refresh (a
// Hit that started the background refresh). Errors: ErrThrottled, ErrClosed,
// ctx.Err(), or the Creator's error (an *UpstreamError for HTTPCreator).
//
// A CreateSession that Get needs passes only the global budget; callers
// that know who asks use GetFor.
func (c *Cache) Get(ctx context.Context, key Key) (Credentials, Status, error) {
	return c.get(ctx, key, nil)
}

// GetFor is Get on behalf of client, an opaque name of who asks (the proxy
// passes its local identity). A CreateSession it needs is admitted by
// client's own budget (CreateRatePerClient, CreateBurstPerClient) before
// the global one, and a client over its budget gets ErrClientThrottled at
// once; a Get that joins a call in flight, is answered from the cache or
// from a remembered failure takes no token. The session itself is shared:
// client is not part of the key.
func (c *Cache) GetFor(ctx context.Context, key Key, client string) (Credentials, Status, error) {
	return c.get(ctx, key, &client)
}

// get serves Get (client nil) and GetFor.
func (c *Cache) get(ctx context.Context, key Key, client *string) (Credentials, Status, error) {
	now := c.opts.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Credentials{}, Miss, ErrClosed
	}
	c.evictIdle(now)
	e := c.entries[key]
	if e != nil {
		c.use(e, now)
		if e.hasCreds && now.Before(e.creds.Expiration.Add(-c.hardMargin(e))) {
			creds, status := e.creds, Hit
			if e.call == nil && !now.Before(c.refreshAt(e)) && !now.Before(e.errUntil) {
				c.start(ctx, e, admit{})
				status = Refresh
			}
			c.mu.Unlock()
			return creds, status, nil
		}
	}
	err := c.negative.get(key, now)
	if err == nil && e != nil && e.err != nil && now.Before(e.errUntil) {
		err = e.err
	}
	if err != nil {
		c.mu.Unlock()
		return Credentials{}, Miss, err
	}
	var cl *call
	if e != nil {
		cl = e.call
	}
	if cl == nil {
		ad, err := c.admitClient(client, now)
		if err != nil {
			c.mu.Unlock()
			c.observeClientThrottled()
			return Credentials{}, Miss, err
		}
		if e == nil {
			e = c.insert(key, now)
		}
		cl = c.start(ctx, e, ad)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.creds, Miss, cl.err
	case <-ctx.Done():
		return Credentials{}, Miss, ctx.Err()
	}
}

// observeClientThrottled reports a GetFor refused by its client's budget.
func (c *Cache) observeClientThrottled() {
	c.opts.Observer.Throttled(0, false)
	if o, ok := c.opts.Observer.(ClientObserver); ok {
		o.ClientThrottled()
	}
}

// use marks e used at now. c.mu is held.
func (c *Cache) use(e *entry, now time.Time) {
	e.lastUsed = now
	c.lru.MoveToFront(e.elem)
}

// insert adds an entry for key, evicting the least recently used entries
// beyond MaxEntries. c.mu is held.
func (c *Cache) insert(key Key, now time.Time) *entry {
	for c.lru.Len() >= c.opts.MaxEntries {
		c.remove(c.lru.Back().Value.(*entry))
	}
	e := &entry{key: key, lastUsed: now}
	e.elem = c.lru.PushFront(e)
	c.entries[key] = e
	return e
}

// evictIdle drops entries unused for IdleTTL, oldest first. An in-flight
// call of a dropped entry still answers its waiters; its result is not
// stored. c.mu is held.
func (c *Cache) evictIdle(now time.Time) {
	for el := c.lru.Back(); el != nil; el = c.lru.Back() {
		e := el.Value.(*entry)
		if now.Sub(e.lastUsed) < c.opts.IdleTTL {
			return
		}
		c.remove(e)
	}
}

// remove drops e. c.mu is held.
func (c *Cache) remove(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
}

// lifetime is how long e's credentials were valid when stored.
func lifetime(e *entry) time.Duration {
	return e.creds.Expiration.Sub(e.issued)
}

// hardMargin is how long before expiry e's credentials stop being served:
// maxHardMargin, or a tenth of their lifetime when that is shorter.
func (c *Cache) hardMargin(e *entry) time.Duration {
	return min(maxHardMargin, max(lifetime(e)/10, 0))
}

// refreshAt is when Gets on e start a background refresh: RefreshBefore
// ahead of expiry, but never earlier than halfway through the lifetime.
func (c *Cache) refreshAt(e *entry) time.Time {
	before := min(c.opts.RefreshBefore, max(lifetime(e)/2, 0))
	return e.creds.Expiration.Add(-before)
}

// ForgetBucket drops every failure remembered for bucket (the negative
// cache and the failure cache, all identities and modes), so the next Get
// asks S3 again. Call it when the bucket has just been created: a NoSuchBucket
// remembered from before would otherwise outlive it by up to NegativeTTL.
// Only this process's cache is affected. Safe for concurrent use.
func (c *Cache) ForgetBucket(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.negative.forgetBucket(bucket)
	for key, e := range c.entries {
		if key.Bucket == bucket {
			e.err, e.errUntil = nil, time.Time{}
		}
	}
}

// Invalidate drops key's credentials if they are still creds (compared by
// AccessKeyID), so the next Get creates a new session; when concurrent
// requests all fail with the same session, only the first evicts it and
// they share one new CreateSession. Used when upstream answers
// ExpiredToken/InvalidToken.
func (c *Cache) Invalidate(key Key, creds Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.hasCreds && e.creds.AccessKeyID == creds.AccessKeyID {
		e.hasCreds = false
		e.creds = Credentials{}
	}
}

// Len returns the number of cached keys (after dropping idle ones).
func (c *Cache) Len() int {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictIdle(now)
	return c.lru.Len()
}

// Close cancels in-flight CreateSession calls, waits for their goroutines
// and makes later Gets return ErrClosed. It is safe to call more than once.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
