package wsdial

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"
)

// TestH2PoolForgetsExpiredOrigins remembers many origins as HTTP/1.1 only,
// lets that memory lapse, then dials as many others: a Dialer that lives
// long and dials many origins once each (webhooks, a crawler) must not keep
// an entry for every origin it ever dialed.
func TestH2PoolForgetsExpiredOrigins(t *testing.T) {
	const n = 1000
	p := newH2Pool(&tls.Config{}, &tls.Config{})
	remember := func(prefix string) {
		for i := range n {
			key := fmt.Sprintf("direct %s%d:443", prefix, i)
			_, _, claim, err := p.acquire(t.Context(), key)
			if err != nil || claim == nil {
				t.Fatalf("acquire %s: claim %v, error %v", key, claim, err)
			}
			p.dialed(key, claim, nil, true)
		}
	}
	remember("old")
	p.mu.Lock()
	for _, e := range p.entries {
		e.h1Until = time.Now().Add(-time.Second) // as h2RememberHTTP1 later
	}
	p.mu.Unlock()
	remember("new")
	p.mu.Lock()
	defer p.mu.Unlock()
	stale := 0
	for _, e := range p.entries {
		if len(e.conns) == 0 && e.dial == nil && !time.Now().Before(e.h1Until) {
			stale++
		}
	}
	if stale > 0 {
		t.Errorf("%d entries whose memory lapsed are still kept, of %d", stale, len(p.entries))
	}
}
