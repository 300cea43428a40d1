package session

import (
	"container/list"
	"errors"
	"time"
)

// Negative cache: CreateSession answers that say the bucket cannot be used
// (it does not exist, the upstream identity may not use it, the name is
// not valid) do not change from one second to the next, and a client can
// ask for as many such buckets as it can invent. They are remembered per
// Key for NegativeTTL in a bounded LRU of their own, apart from the
// sessions, so that a flood of invented names neither reaches upstream
// again nor evicts sessions in use. Other failures (throttling, 5xx,
// transport errors, a bad answer) are transient and are cached on the
// session entry for FailureTTL only.

// permanentCodes are the CreateSession error codes cached for NegativeTTL
// (API_CreateSession and the S3 error code list: NoSuchBucket 404,
// AccessDenied 403, InvalidBucketName 400). Codes about the proxy's own
// IAM credentials or clock (InvalidAccessKeyId, SignatureDoesNotMatch,
// RequestTimeTooSkewed, ExpiredToken) are not: they are fixed by a key
// rotation or a clock step, not by the bucket, and caching them per bucket
// would outlive the fix.
var permanentCodes = map[string]bool{
	"NoSuchBucket":      true,
	"AccessDenied":      true,
	"InvalidBucketName": true,
}

// permanent reports whether err is a CreateSession answer for the
// negative cache.
func permanent(err error) bool {
	var up *UpstreamError
	return errors.As(err, &up) && up.Status >= 400 && up.Status < 500 && permanentCodes[up.Code]
}

// negativeCache maps Keys to a remembered permanent failure. It is not
// safe for concurrent use: Cache.mu guards it.
type negativeCache struct {
	max     int
	entries map[Key]*list.Element
	lru     list.List // of *negative, most recently stored at the front
}

type negative struct {
	key   Key
	err   error
	until time.Time
}

func newNegativeCache(max int) *negativeCache {
	n := &negativeCache{max: max, entries: make(map[Key]*list.Element)}
	n.lru.Init()
	return n
}

// get returns key's remembered failure, nil if none is current at now.
func (n *negativeCache) get(key Key, now time.Time) error {
	el, ok := n.entries[key]
	if !ok {
		return nil
	}
	ng := el.Value.(*negative)
	if !now.Before(ng.until) {
		n.lru.Remove(el)
		delete(n.entries, key)
		return nil
	}
	return ng.err
}

// put remembers err for key until until, dropping the oldest entries
// beyond max.
func (n *negativeCache) put(key Key, err error, until time.Time) {
	if el, ok := n.entries[key]; ok {
		ng := el.Value.(*negative)
		ng.err, ng.until = err, until
		n.lru.MoveToFront(el)
		return
	}
	for n.lru.Len() >= n.max {
		old := n.lru.Remove(n.lru.Back()).(*negative)
		delete(n.entries, old.key)
	}
	n.entries[key] = n.lru.PushFront(&negative{key: key, err: err, until: until})
}

// forgetBucket drops every remembered failure of bucket, whatever the
// identity and mode.
func (n *negativeCache) forgetBucket(bucket string) {
	for key, el := range n.entries {
		if key.Bucket == bucket {
			n.lru.Remove(el)
			delete(n.entries, key)
		}
	}
}

// len is the number of remembered failures, current or not.
func (n *negativeCache) len() int { return n.lru.Len() }
