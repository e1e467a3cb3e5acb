package wsdial

import (
	"sync"
	"testing"
	"time"
)

// TestSemExcludes: goroutines that take a sem by each of its ways, and many
// that give up waiting, never hold it two at a time, and it ends free.
func TestSemExcludes(t *testing.T) {
	var s sem
	var wg sync.WaitGroup
	inside, count, gaveUp := 0, 0, 0
	var mu sync.Mutex // guards gaveUp, which is outside the lock under test
	enter := func() {
		inside++
		if inside != 1 {
			t.Errorf("%d goroutines hold the lock", inside)
		}
		count++
		if count%4 == 0 {
			time.Sleep(20 * time.Microsecond) // holding the lock a while, so that others queue
		}
		inside--
	}
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				switch (g + i) % 3 {
				case 0:
					s.lock()
				case 1:
					for !s.tryLock() {
						time.Sleep(time.Microsecond)
					}
				case 2:
					// A bound so short that many waits run out as the lock
					// is handed over: the lock must then go on, not be lost.
					if !s.lockBy(time.Now().Add(time.Duration(i%7) * 10 * time.Microsecond)) {
						mu.Lock()
						gaveUp++
						mu.Unlock()
						continue
					}
				}
				enter()
				s.unlock()
			}
		})
	}
	wg.Wait()
	if count+gaveUp != 16*500 {
		t.Errorf("%d took the lock and %d gave up, of %d", count, gaveUp, 16*500)
	}
	if !s.tryLock() {
		t.Fatal("the lock is held after everyone let it go")
	}
	s.unlock()
	t.Logf("%d waits gave up", gaveUp)
}

// TestSemLockBy: a wait for a lock held throughout gives up by its
// deadline, and leaves the lock to its holder; a wait for one let go in
// time gets it, and the lock is handed on in the order of the waits.
func TestSemLockBy(t *testing.T) {
	var s sem
	s.lock()
	if s.lockBy(time.Now().Add(20 * time.Millisecond)) {
		t.Fatal("lockBy took a lock that was held throughout")
	}
	if s.tryLock() {
		t.Fatal("tryLock took a held lock")
	}
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if !s.lockBy(time.Now().Add(time.Minute)) {
				t.Error("lockBy gave up with a minute to go")
				return
			}
			order <- i
			s.unlock()
		})
		// Each waiter queues before the next starts.
		for {
			q := s.queue()
			q.mu.Lock()
			n := 0
			for w := q.head; w != nil; w = w.next {
				if w.s == &s {
					n++
				}
			}
			q.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond) // polling for the waiter to queue
		}
	}
	s.unlock()
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Errorf("waiter %d got the lock in turn %d", got, want)
		}
		want++
	}
	if !s.tryLock() {
		t.Fatal("the lock is held after everyone let it go")
	}
}
