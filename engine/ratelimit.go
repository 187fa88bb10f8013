package engine

import (
	"sync"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// RateBuckets are token buckets by key, each allowing lim.Requests per
// lim.Per with bursts up to lim.Requests, refilled evenly. Webhook
// triggers' rate limits take a token or refuse (Allow); connections'
// rate limits reserve one, perhaps in the future, so that a run waits its
// turn instead of being refused (Reserve). The zero value is ready to use.
type RateBuckets struct {
	mu      sync.Mutex
	buckets map[string]*rateBucket
	// reserved holds the future tokens of runs parked until they are due,
	// by holder ("run:step"), so that a run coming back takes the token it
	// waited for instead of queueing again behind later ones.
	reserved map[string]time.Time
}

type rateBucket struct {
	tokens float64
	last   time.Time
	limit  flows.RateLimit
}

// bucket returns key's bucket filled up to now; b.mu must be held. A
// bucket whose limit changed starts full under the new one.
func (b *RateBuckets) bucket(key string, lim flows.RateLimit, now time.Time) (*rateBucket, float64) {
	if b.buckets == nil {
		b.buckets = map[string]*rateBucket{}
	}
	bk := b.buckets[key]
	if bk == nil || bk.limit != lim {
		bk = &rateBucket{tokens: float64(lim.Requests), last: now, limit: lim}
		b.buckets[key] = bk
	}
	rate := float64(lim.Requests) / lim.Per.Std().Seconds()
	if now.After(bk.last) {
		bk.tokens = min(float64(lim.Requests), bk.tokens+now.Sub(bk.last).Seconds()*rate)
		bk.last = now
	}
	return bk, rate
}

// Allow takes a token from key's bucket if one is there now; otherwise it
// takes nothing and says how long until one is.
func (b *RateBuckets) Allow(key string, lim flows.RateLimit, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, rate := b.bucket(key, lim, now)
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	return false, time.Duration((1 - bk.tokens) / rate * float64(time.Second))
}

// Reserve takes a token from key's bucket for holder and returns when it
// may be used: now, or later when the bucket is empty (the bucket goes
// into debt, so every caller gets its own time, in the order they came).
// A holder that kept a reservation (Keep) gets that one back instead.
func (b *RateBuckets) Reserve(key string, lim flows.RateLimit, holder string, now time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if at, ok := b.reserved[holder]; ok {
		delete(b.reserved, holder)
		return at
	}
	bk, rate := b.bucket(key, lim, now)
	bk.tokens--
	if bk.tokens >= 0 {
		return now
	}
	return now.Add(time.Duration(-bk.tokens / rate * float64(time.Second)))
}

// Keep records that holder waits for the token Reserve gave it at at.
func (b *RateBuckets) Keep(holder string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved == nil {
		b.reserved = map[string]time.Time{}
	}
	b.reserved[holder] = at
}
