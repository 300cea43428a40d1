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

// start launches e's CreateSession, admitted as ad, in its own goroutine
// and records it as e's in-flight call. reqCtx only lends its values. c.mu
// is held.
func (c *Cache) start(reqCtx context.Context, e *entry, ad admit) *call {
	cl := &call{done: make(chan struct{})}
	e.call = cl
	c.wg.Add(1)
	go c.run(context.WithoutCancel(reqCtx), e, cl, ad)
	return cl
}

// run performs one call for e and stores its outcome. The Observer hears
// of a completed call once its credentials are in the cache, before the
// callers waiting on it are released: whoever counts CreateSession calls
// there finds the session they made in place.
func (c *Cache) run(base context.Context, e *entry, cl *call, ad admit) {
	defer c.wg.Done()
	var creds Credentials
	var took time.Duration
	var code string // the call's outcome for the Observer
	err := c.admitGlobal(ad)
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
		c.store(e, creds, err, now)
	}
	c.mu.Unlock()
	if called {
		c.opts.Observer.CreateSession(e.key.Bucket, e.key.Mode, code, took)
	}
	close(cl.done)
}

// store records the outcome of e's call at now. An entry left with
// nothing to serve (throttled, or a failure now in the negative cache) is
// dropped, so that calls for invented bucket names do not push sessions in
// use out of the LRU. c.mu is held.
func (c *Cache) store(e *entry, creds Credentials, err error, now time.Time) {
	switch {
	case err == nil:
		e.creds, e.hasCreds, e.issued = creds, true, now
		e.err, e.errUntil = nil, time.Time{}
		return
	case errors.Is(err, ErrThrottled), c.ctx.Err() != nil: // ErrClosed comes only once c.ctx is done
		// transient: not cached
	case permanent(err):
		c.negative.put(e.key, err, now.Add(c.opts.NegativeTTL))
		// Also on the entry: a session still served is not refreshed again
		// before the TTL.
		e.err, e.errUntil = err, now.Add(c.opts.NegativeTTL)
	default:
		e.err, e.errUntil = err, now.Add(c.opts.FailureTTL)
		return
	}
	if !e.hasCreds && e.call == nil {
		c.remove(e)
	}
}

// admitClient takes client's own token at now (client nil: none needed).
// c.mu is held; the admission has its own lock.
func (c *Cache) admitClient(client *string, now time.Time) (admit, error) {
	if client == nil {
		return admit{}, nil
	}
	cl, delay, err := c.adm.reserveClient(*client, now)
	if err != nil {
		return admit{}, err
	}
	return admit{client: cl, delay: delay, limited: true}, nil
}

// admitGlobal waits until the client's token reserved at Get is due, then
// takes a global token at Options.Now and waits for it too, or refuses
// with ErrThrottled when the two waits together would exceed CreateWait.
// Reserving at an explicit time (not Limiter.Wait) keeps it testable with
// an injected clock or testing/synctest. Close ends a wait with ErrClosed.
func (c *Cache) admitGlobal(ad admit) error {
	if err := c.sleep(ad.delay); err != nil {
		return err
	}
	delay, err := c.adm.reserveGlobal(ad, c.opts.Now(), c.opts.CreateWait-ad.delay)
	if err != nil {
		c.opts.Observer.Throttled(0, false)
		return err
	}
	if delay > 0 && ad.limited {
		defer c.adm.release(ad)
	}
	if err := c.sleep(delay); err != nil {
		return err
	}
	if waited := ad.delay + delay; waited > 0 {
		c.opts.Observer.Throttled(waited, true)
	}
	return nil
}

// sleep waits d, or returns ErrClosed when the cache is closed first.
func (c *Cache) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// create calls the Creator on a context that ends after CreateTimeout or at
// Close, and reports how long the call took. The caller was admitted
// (admitGlobal).
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
