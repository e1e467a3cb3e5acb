package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
)

// liveMem is the Go heap in use after a full collection, plus goroutine
// stacks: what a connection costs the process while it sits there.
func liveMem() (heapStack float64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc + m.StackInuse), runtime.NumGoroutine()
}

// IdleResult is the memory of n idle connections, per connection.
type IdleResult struct {
	NoReader, Reader                     float64 // bytes per connection
	GoroutinesNoReader, GoroutinesReader float64 // per connection
}

// idleMemory dials n connections and measures them idle, first as dialled,
// then with a goroutine per connection blocked in Read. To be sure each
// reader has been inside Read, every connection first echoes one byte
// through its reader, which then reads again and stays there.
func idleMemory(dial lib.DialFunc, n int) (IdleResult, error) {
	var res IdleResult
	conns := make([]lib.Conn, 0, n)
	var wg sync.WaitGroup // the readers
	defer func() {
		// Aborting ends every Read, so the readers can be waited for.
		for _, c := range conns {
			c.Abort()
		}
		wg.Wait()
	}()
	base, g0 := liveMem()
	ctx := context.Background()
	for range n {
		c, err := dial(ctx)
		if err != nil {
			return res, fmt.Errorf("after %d connections: %w", len(conns), err)
		}
		conns = append(conns, c)
	}
	m1, g1 := liveMem()
	res.NoReader = (m1 - base) / float64(n)
	res.GoroutinesNoReader = float64(g1-g0) / float64(n)

	got := make(chan error, 1)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf, err := c.Read(nil)
			if err == nil && len(buf) != 1 {
				err = fmt.Errorf("echo of 1 byte returned %d", len(buf))
			}
			got <- err
			if err != nil {
				return
			}
			c.Read(buf) // stays blocked until Abort
		}()
		if err := c.Write(lib.Binary, []byte{'x'}); err != nil {
			return res, fmt.Errorf("connection %d: %w", i, err)
		}
		if err := <-got; err != nil {
			return res, fmt.Errorf("connection %d: %w", i, err)
		}
		if i+1 == n/20 {
			// The runtime starts new goroutines with stacks the size of
			// those it saw at the last collection, as well as the
			// benchmark's own: let it see these readers, as it would in a
			// process full of them, rather than whatever was before, or
			// however many collections a library's allocations bring on.
			runtime.GC()
		}
	}
	m2, g2 := liveMem()
	res.Reader = (m2 - base) / float64(n)
	res.GoroutinesReader = float64(g2-g0) / float64(n)
	return res, nil
}

// HoldResult is many connections held open through one proxy at once.
type HoldResult struct {
	Want, Dialled, Usable int
	DialTime, CheckTime   time.Duration
	PerConn               float64 // bytes per connection, heap and stacks
	Err                   error   // the first failure, if any
}

// holdMany dials n connections with a few workers, measures their memory,
// runs idle, if not nil, while they sit there, then echoes a message on
// every one to show it still works.
func holdMany(dial lib.DialFunc, n, workers int, idle func()) HoldResult {
	res := HoldResult{Want: n}
	conns := make([]lib.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Abort()
			}
		}
	}()
	base, _ := liveMem()
	// forEach runs f over every index with the workers, until f fails.
	forEach := func(f func(i int) error) error {
		var firstErr atomic.Pointer[error]
		fail := func(err error) { firstErr.CompareAndSwap(nil, &err) }
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n || firstErr.Load() != nil {
						return
					}
					if err := f(i); err != nil {
						fail(fmt.Errorf("connection %d: %w", i, err))
						return
					}
				}
			}()
		}
		wg.Wait()
		if p := firstErr.Load(); p != nil {
			return *p
		}
		return nil
	}
	ctx := context.Background()
	t0 := time.Now()
	dialErr := forEach(func(i int) error {
		c, err := dial(ctx)
		conns[i] = c
		return err
	})
	res.DialTime = time.Since(t0)
	for _, c := range conns {
		if c != nil {
			res.Dialled++
		}
	}
	m, _ := liveMem()
	if res.Dialled > 0 {
		res.PerConn = (m - base) / float64(res.Dialled)
	}
	if idle != nil {
		idle()
	}

	var usable atomic.Int64
	t1 := time.Now()
	msg := []byte("are you there?")
	checkErr := forEach(func(i int) error {
		c := conns[i]
		if c == nil {
			return nil
		}
		if err := c.Write(lib.Text, msg); err != nil {
			return err
		}
		buf, err := c.Read(make([]byte, 0, 32))
		if err != nil {
			return err
		}
		if string(buf) != string(msg) {
			return errors.New("echo came back different")
		}
		usable.Add(1)
		return nil
	})
	res.CheckTime = time.Since(t1)
	res.Usable = int(usable.Load())
	res.Err = errors.Join(dialErr, checkErr)
	return res
}
