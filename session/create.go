package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExpiredOnArrival is a CreateSession that answered credentials already
// expired by the local clock. Get returns it wrapped in an *UpstreamError
// (Status 0) and caches it like any failure.
var ErrExpiredOnArrival = errors.New("session: createsession returned expired credentials")

// start launches e's CreateSession in its own goroutine and records it as
// e's in-flight call. reqCtx only lends its values. c.mu is held.
func (c *Cache) start(reqCtx context.Context, e *entry) *call {
	cl := &call{done: make(chan struct{})}
	e.call = cl
	c.wg.Add(1)
	go c.run(context.WithoutCancel(reqCtx), e, cl)
	return cl
}

// run performs one call for e and stores its outcome. The Observer hears
// of a completed call once its credentials are in the cache, before the
// callers waiting on it are released: whoever counts CreateSession calls
// there finds the session they made in place.
func (c *Cache) run(base context.Context, e *entry, cl *call) {
	defer c.wg.Done()
	var creds Credentials
	var took time.Duration
	var code string // the call's outcome for the Observer
	err := c.takeToken()
	called := err == nil
	if called {
		creds, took, err = c.create(base, e.key)
		code = errorCode(err)
	}
	now := c.opts.Now()
	if err == nil && !creds.Expiration.After(now) {
		// Storing them would make every Get call CreateSession again. As an
		// UpstreamError without status it reaches clients as a retryable 503.
		err = &UpstreamError{Err: fmt.Errorf("%w (expiration %s)", ErrExpiredOnArrival, creds.Expiration.Format(time.RFC3339))}
		creds = Credentials{}
	}
	c.mu.Lock()
	cl.creds, cl.err = creds, err
	if e.call == cl {
		e.call = nil
	}
	if c.entries[e.key] == e { // not evicted meanwhile
		switch {
		case err == nil:
			e.creds, e.hasCreds, e.issued = creds, true, now
			e.err, e.errUntil = nil, time.Time{}
		case errors.Is(err, ErrThrottled), c.ctx.Err() != nil:
			// transient: not cached
		default:
			e.err, e.errUntil = err, now.Add(c.opts.FailureTTL)
		}
	}
	c.mu.Unlock()
	if called {
		c.opts.Observer.CreateSession(e.key.Bucket, e.key.Mode, code, took)
	}
	close(cl.done)
}

// create calls the Creator on a context that ends after CreateTimeout or at
// Close, and reports how long the call took. The caller holds a rate-limit
// token (takeToken).
func (c *Cache) create(base context.Context, key Key) (creds Credentials, took time.Duration, err error) {
	ctx, cancel := context.WithTimeout(base, c.opts.CreateTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	begin := c.opts.Now()
	creds, err = c.creator.CreateSession(ctx, key.Bucket, key.Mode)
	took = c.opts.Now().Sub(begin)
	if err == nil && creds.Expiration.IsZero() {
		// Creators should set it; S3 sessions last 5 minutes
		// (API_CreateSession), the SDKs' fallback too.
		creds.Expiration = begin.Add(5 * time.Minute)
	}
	return creds, took, err
}

// takeToken reserves a token at Options.Now and sleeps until it is due,
// or refuses with ErrThrottled when that is more than CreateWait away.
// Reserving at an explicit time (not Limiter.Wait) keeps it testable with an
// injected clock or testing/synctest.
func (c *Cache) takeToken() error {
	now := c.opts.Now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return ErrThrottled
	}
	delay := r.DelayFrom(now)
	if delay > c.opts.CreateWait {
		r.CancelAt(now)
		c.opts.Observer.Throttled(0, false)
		return ErrThrottled
	}
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		c.opts.Observer.Throttled(delay, true)
		return nil
	case <-c.ctx.Done():
		r.CancelAt(c.opts.Now())
		return ErrClosed
	}
}

// errorCode is the Observer code of a CreateSession outcome.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var up *UpstreamError
	if errors.As(err, &up) {
		if up.Status == 0 || up.Code == "" {
			return "transport"
		}
		return up.Code
	}
	return "error"
}
