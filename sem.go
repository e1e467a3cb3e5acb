package wsdial

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// sem is a lock that can be waited for within a time bound. Its zero value
// is unlocked. It is one word, for every Conn holds three and most are
// never contended: a lock that is free is taken with one atomic operation,
// and only one that is waited for puts a waiter in semWaits, a table shared
// by all locks. A lock that is let go while others wait goes straight to
// the first of them, in the order they came.
type sem struct {
	// 0: free; semHeld: held, nobody waits; semWaited: held, and a waiter
	// may be queued for it.
	v atomic.Int32
}

const (
	semHeld   = 1
	semWaited = 2
)

// semWaiter is a goroutine waiting for a sem: a send on ready, which has
// room for one, hands it the lock. Waiters are pooled, so that waiting does
// not allocate.
type semWaiter struct {
	s     *sem
	ready chan struct{}
	next  *semWaiter
	// by is the deadline of a wait by one that may change (lockByLatest),
	// in Unix nanoseconds, 0 for none; moved says that ready woke the
	// waiter without the lock, for it to wait again by the new one.
	by    *atomic.Int64
	moved bool
}

var semWaiters = sync.Pool{New: func() any { return &semWaiter{ready: make(chan struct{}, 1)} }}

// semQueue holds the waiters of the locks that hash to it, in order.
type semQueue struct {
	mu         sync.Mutex
	head, tail *semWaiter
}

var (
	semWaits [64]semQueue
	semSeed  = maphash.MakeSeed()
)

func (s *sem) queue() *semQueue {
	return &semWaits[maphash.Comparable(semSeed, s)%uint64(len(semWaits))]
}

// tryLock takes s if it is free, and reports whether it did.
func (s *sem) tryLock() bool { return s.v.CompareAndSwap(0, semHeld) }

func (s *sem) lock() {
	if !s.tryLock() {
		s.wait(time.Time{}, nil)
	}
}

// lockBy takes s, waiting no later than deadline, and reports whether it
// did. Only a wait costs a timer.
func (s *sem) lockBy(deadline time.Time) bool {
	if s.tryLock() {
		return true
	}
	got, _ := s.wait(deadline, nil)
	return got
}

// lockByLatest is lockBy for a deadline that may change while the wait
// goes on, held in by as Unix nanoseconds, 0 for none: the wait keeps to
// the latest, as those of a net.Conn's pending writes do, since whoever
// changes it calls deadlineMoved.
func (s *sem) lockByLatest(by *atomic.Int64) bool {
	if s.tryLock() {
		return true
	}
	for {
		if got, moved := s.wait(time.Time{}, by); !moved {
			return got
		}
	}
}

// deadlineMoved wakes the waits of lockByLatest for s, whose deadline has
// just changed, to wait again by the new one.
func (s *sem) deadlineMoved() {
	if s.v.Load() != semWaited {
		return // nobody waits: a wait that comes reads the new deadline
	}
	q := s.queue()
	q.mu.Lock()
	for w := q.head; w != nil; {
		next := w.next
		if w.s == s && w.by != nil {
			q.remove(w)
			w.moved = true
			w.ready <- struct{}{} // out of the queue, it hears nothing else
		}
		w = next
	}
	q.mu.Unlock()
}

// wait queues for s, until deadline unless it is zero, or with by until
// the deadline by holds, and reports whether it got the lock, or whether
// by changed meanwhile.
func (s *sem) wait(deadline time.Time, by *atomic.Int64) (got, moved bool) {
	q := s.queue()
	q.mu.Lock()
	for {
		// Under the queue's lock, so that unlock, which takes it when s is
		// waited for, finds this waiter.
		switch v := s.v.Load(); {
		case v == 0:
			if s.v.CompareAndSwap(0, semHeld) {
				q.mu.Unlock()
				return true, false
			}
		case v == semWaited || s.v.CompareAndSwap(semHeld, semWaited):
			w := semWaiters.Get().(*semWaiter)
			w.s = s
			q.push(w)
			if by != nil {
				// Read once queued, under the queue's lock: a change that
				// comes later finds this waiter.
				w.by = by
				if d := by.Load(); d != 0 {
					deadline = time.Unix(0, d)
				}
			}
			q.mu.Unlock()
			got := w.await(q, deadline)
			moved := w.moved
			w.s, w.by, w.moved = nil, nil, false
			semWaiters.Put(w)
			return got && !moved, moved
		}
	}
}

// await waits for w's turn, until deadline unless it is zero.
func (w *semWaiter) await(q *semQueue, deadline time.Time) bool {
	if deadline.IsZero() {
		<-w.ready
		return true
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-w.ready:
		return true
	case <-t.C:
	}
	q.mu.Lock()
	queued := q.remove(w)
	q.mu.Unlock()
	if !queued {
		// The lock came as the time ran out, or the deadline moved: pass
		// the lock on.
		<-w.ready
		if !w.moved {
			w.s.unlock()
		}
	}
	return false
}

func (s *sem) unlock() {
	if s.v.CompareAndSwap(semHeld, 0) {
		return
	}
	q := s.queue()
	q.mu.Lock()
	w := q.first(s)
	switch {
	case w == nil:
		s.v.Store(0) // the waiters gave up
	case q.find(s) == nil:
		s.v.Store(semHeld) // the last waiter takes it: unlocking it again is quick
	}
	q.mu.Unlock()
	if w != nil {
		w.ready <- struct{}{} // s stays held, by w now
	}
}

func (q *semQueue) push(w *semWaiter) {
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
}

// first takes the first waiter for s out of the queue, or returns nil.
func (q *semQueue) first(s *sem) *semWaiter {
	w := q.find(s)
	if w != nil {
		q.remove(w)
	}
	return w
}

// find returns the first waiter for s, or nil.
func (q *semQueue) find(s *sem) *semWaiter {
	for w := q.head; w != nil; w = w.next {
		if w.s == s {
			return w
		}
	}
	return nil
}

// remove takes w out of the queue, and reports whether it was there.
func (q *semQueue) remove(w *semWaiter) bool {
	var prev *semWaiter
	for x := q.head; x != nil; prev, x = x, x.next {
		if x != w {
			continue
		}
		if prev == nil {
			q.head = x.next
		} else {
			prev.next = x.next
		}
		if q.tail == x {
			q.tail = prev
		}
		x.next = nil
		return true
	}
	return false
}
