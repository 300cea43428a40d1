package localsession

import (
	"container/list"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Mode is the session mode, shared with the upstream session cache.
type Mode = session.Mode

// Session modes.
const (
	ReadOnly  = session.ReadOnly
	ReadWrite = session.ReadWrite
)

// Defaults for Options.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultMaxEntries = 10000
	// AccessKeyPrefix starts every access key id the Store issues, so that
	// local session keys are recognisable in logs (the id is not a secret).
	AccessKeyPrefix = "S3XL"
)

// Options configures a Store. Zero values mean the documented defaults.
type Options struct {
	// TTL is the lifetime of an issued session. Default DefaultTTL (5m, as
	// S3 CreateSession).
	TTL time.Duration
	// MaxEntries bounds the live sessions kept. When full, expired sessions
	// are purged first, then the oldest ones are dropped (their holders get
	// InvalidAccessKeyId and call CreateSession again). Default DefaultMaxEntries.
	MaxEntries int
	// Rand is the randomness source. Default crypto/rand.Reader.
	Rand io.Reader
	// Principal maps a new session to the signing.Key Principal LookupKey
	// returns for it; it runs once, in Issue. Default: the *Session itself.
	// A proxy whose authorization expects its own identity type sets it to
	// that identity narrowed to the session's bucket and mode (for
	// s3xproxy's core: a copy of the caller's *proxy.Credential with
	// Buckets = [sess.Bucket] and, for ReadOnly, read access), so the usual
	// bucket and access checks enforce the session's scope.
	Principal func(sess *Session) any
}

// Credentials are one issued local session, as returned to the client.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Session is the signing.Key Principal of a local session key: who asked
// for it, for which bucket and mode. The proxy checks every request signed
// with it through Check.
type Session struct {
	// Principal is the caller's local identity, as given to Issue.
	Principal any
	// AccessKeyID is the local key id the session was issued to (not the
	// session's own id).
	AccessKeyID string
	// Bucket is the only bucket the session may touch.
	Bucket  string
	Mode    Mode
	Expires time.Time
}

// Errors returned by Issue, Check and ModeFor. Check and ModeFor wrap them
// in *s3err.Error values.
var (
	ErrNoSession   = errors.New("localsession: request not signed with a local session")
	ErrWrongBucket = errors.New("localsession: session is bound to another bucket")
	ErrReadOnly    = errors.New("localsession: read-only session used for a write")
	ErrInvalidMode = errors.New("localsession: invalid session mode")
	ErrModeDenied  = errors.New("localsession: session mode not allowed for this identity")
)

type entry struct {
	id   string
	sess *Session
	key  signing.Key
	elem *list.Element
}

// Store issues local sessions and looks them up. It implements
// signing.KeyLookup. Safe for concurrent use; the zero value is not usable,
// call NewStore.
type Store struct {
	opts Options

	mu    sync.Mutex // guards byID and order
	byID  map[string]*entry
	order *list.List // of *entry, oldest issue first (= soonest expiry: the TTL is fixed)
}

var _ signing.KeyLookup = (*Store)(nil)

// NewStore returns an empty Store with opts' defaults applied.
func NewStore(opts Options) *Store {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Store{opts: opts, byID: make(map[string]*entry), order: list.New()}
}

// Issue creates a session for principal (the caller's local identity,
// authenticated under accessKeyID) on bucket with mode, valid from now for
// the Store's TTL. Expired sessions are purged as a side effect, and the
// oldest live ones dropped when the Store is full.
func (s *Store) Issue(principal any, accessKeyID, bucket string, mode Mode, now time.Time) (Credentials, error) {
	if mode != ReadOnly && mode != ReadWrite {
		return Credentials{}, fmt.Errorf("localsession: issue %q: %w", mode, ErrInvalidMode)
	}
	if bucket == "" {
		return Credentials{}, errors.New("localsession: issue: empty bucket")
	}
	id, secret, token, err := s.random()
	if err != nil {
		return Credentials{}, fmt.Errorf("localsession: issue: %w", err)
	}
	exp := now.Add(s.opts.TTL).UTC().Truncate(time.Second)
	sess := &Session{Principal: principal, AccessKeyID: accessKeyID, Bucket: bucket, Mode: mode, Expires: exp}
	var p any = sess
	if s.opts.Principal != nil {
		p = s.opts.Principal(sess)
	}
	e := &entry{id: id, sess: sess, key: signing.Key{SecretAccessKey: secret, SessionToken: token, Expires: exp, Principal: p}}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now)
	for s.order.Len() >= s.opts.MaxEntries {
		s.removeLocked(s.order.Front().Value.(*entry))
	}
	e.elem = s.order.PushBack(e)
	s.byID[id] = e
	return Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Expiration: exp}, nil
}

// LookupKey implements signing.KeyLookup. The Key carries the session's
// secret, token and expiry (the Verifier answers ExpiredToken past it) and
// the Principal made at Issue (a *Session by default, see Options.Principal). An expired session not yet purged is still returned so
// that the client is told its token expired rather than that the key is
// unknown.
func (s *Store) LookupKey(accessKeyID string) (signing.Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[accessKeyID]
	if !ok {
		return signing.Key{}, false
	}
	return e.key, true
}

// Session returns the session issued under accessKeyID, expired or not,
// while the Store holds it. The proxy uses it to recognise a request signed
// with a local session key whatever Options.Principal returns.
func (s *Store) Session(accessKeyID string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[accessKeyID]
	if !ok {
		return nil, false
	}
	return e.sess, true
}

// Purge drops the sessions expired at now.
func (s *Store) Purge(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now)
}

// Len returns the number of sessions held, expired ones not yet purged included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *Store) purgeLocked(now time.Time) {
	for f := s.order.Front(); f != nil; f = s.order.Front() {
		e := f.Value.(*entry)
		if now.Before(e.key.Expires) {
			return
		}
		s.removeLocked(e)
	}
}

func (s *Store) removeLocked(e *entry) {
	s.order.Remove(e.elem)
	delete(s.byID, e.id)
}

// random returns a 20-character access key id (AccessKeyPrefix + 16 base32
// characters, 80 random bits), a 40-character secret (240 bits) and a
// 128-character base64url token (96 random bytes).
func (s *Store) random() (id, secret, token string, err error) {
	var b [10 + 30 + 96]byte
	if _, err := io.ReadFull(s.opts.Rand, b[:]); err != nil {
		return "", "", "", fmt.Errorf("random: %w", err)
	}
	id = AccessKeyPrefix + base32.StdEncoding.EncodeToString(b[:10])
	secret = base64.StdEncoding.EncodeToString(b[10:40])
	token = base64.RawURLEncoding.EncodeToString(b[40:])
	return id, secret, token, nil
}
