package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// Session modes (x-amz-create-session-mode).
const (
	modeReadOnly  = "ReadOnly"
	modeReadWrite = "ReadWrite"
)

// session is one CreateSession result. Fields are immutable after creation
// except expires, which ExpireSessions moves (guarded by sessionStore.mu).
type session struct {
	token   string
	akid    string
	secret  string
	bucket  string
	mode    string
	iamAKID string
	expires time.Time
}

// readOnlyOps are the operations a ReadOnly session may call
// (protocol notes 6).
var readOnlyOps = map[string]bool{
	"GetObject": true, "HeadObject": true, "ListObjectsV2": true,
	"GetObjectAttributes": true, "ListParts": true, "ListMultipartUploads": true,
}

// sessionStore maps session tokens to sessions. Expired sessions are kept
// (so their use answers ExpiredToken, not InvalidToken) until an hour after
// expiry.
type sessionStore struct {
	mu       sync.RWMutex
	byToken  map[string]*session // guarded by mu
	lastGC   time.Time           // guarded by mu
	gcWindow time.Duration
}

func newSessionStore() *sessionStore {
	return &sessionStore{byToken: map[string]*session{}, gcWindow: time.Hour}
}

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	lowerHex   = "0123456789abcdef"
)

func (s *sessionStore) create(bucket, mode, iamAKID string, now time.Time, ttl time.Duration) *session {
	tok := make([]byte, 144)
	_, _ = rand.Read(tok)
	sec := make([]byte, 30)
	_, _ = rand.Read(sec)
	ss := &session{
		token:   base64.StdEncoding.EncodeToString(tok),
		akid:    "S3XS" + randString(16, upperAlnum),
		secret:  base64.StdEncoding.EncodeToString(sec),
		bucket:  bucket,
		mode:    mode,
		iamAKID: iamAKID,
		expires: now.Add(ttl).Truncate(time.Second),
	}
	s.mu.Lock()
	s.byToken[ss.token] = ss
	if now.Sub(s.lastGC) > s.gcWindow/4 {
		s.lastGC = now
		for k, v := range s.byToken {
			if now.Sub(v.expires) > s.gcWindow {
				delete(s.byToken, k)
			}
		}
	}
	s.mu.Unlock()
	return ss
}

// lookup returns the session of a token and its current expiry.
func (s *sessionStore) lookup(token string) (*session, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ss := s.byToken[token]
	if ss == nil {
		return nil, time.Time{}
	}
	return ss, ss.expires
}

// expireAll makes every session expired at now.
func (s *sessionStore) expireAll(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.byToken {
		if ss.expires.After(now) {
			ss.expires = now
		}
	}
}

func (s *sessionStore) count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byToken)
}
