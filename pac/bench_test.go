package pac

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/dop251/goja"
)

// benchScript is the corpus's 200-line corporate script.
func benchScript(b *testing.B, opts ...Option) *Script {
	b.Helper()
	src, err := os.ReadFile("testdata/corpus/corporate-200.pac")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Parse(src, append([]Option{WithMyIPAddress(fixedIP)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkFindProxyForURL is the cost of one call of the 200-line
// corporate script through the public API: a runtime made for the call,
// the script's top level, and FindProxyForURL. "literal" asks for an
// address, which walks every rule to the last with no DNS; "dns" asks for a
// name, which the script resolves (through a loopback name server) before
// it gets there. parallel runs GOMAXPROCS goroutines (2 with -cpu 2).
func BenchmarkFindProxyForURL(b *testing.B) {
	dns := newDNSServer(b, corpDNS)
	s := benchScript(b, WithResolver(dns.resolver()))
	for _, tc := range []struct{ name, url, want string }{
		{"literal", "http://203.0.113.9/index.html", "PROXY proxy-dc1.corp.example:8080; PROXY proxy-dc2.corp.example:8080; DIRECT"},
		{"dns", "https://www.example.com/", "PROXY proxy-dc1.corp.example:8080; PROXY proxy-dc2.corp.example:8080; DIRECT"},
	} {
		if got := mustFind(b, s, tc.url); got != tc.want {
			b.Fatalf("%s: %q", tc.url, got)
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.FindProxyForURL(context.Background(), tc.url); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.FindProxyForURL(context.Background(), tc.url); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRuntimeStrategy compares the two ways to run calls in parallel,
// on the engine's work alone (no timeout goroutine): a fresh runtime per
// call, which this package does, against a pool of runtimes that ran the
// script's top level once and are reused, which is faster and is wrong:
// what one call leaves in the globals, the next call on that runtime sees
// (see TestNoStateLeaksBetweenCalls).
func BenchmarkRuntimeStrategy(b *testing.B) {
	s := benchScript(b)
	const target, host = "http://203.0.113.9/index.html", "203.0.113.9"
	call := func(b *testing.B, e *env) {
		fn, ok := goja.AssertFunction(e.vm.Get(entryName))
		if !ok {
			b.Fatal("no FindProxyForURL")
		}
		if _, err := fn(goja.Undefined(), e.vm.ToValue(target), e.vm.ToValue(host)); err != nil {
			b.Fatal(err)
		}
	}
	fresh := func(b *testing.B) {
		e := newEnv(context.Background(), s)
		if _, err := e.vm.RunProgram(s.prog); err != nil {
			b.Fatal(err)
		}
		call(b, e)
	}
	pool := sync.Pool{New: func() any {
		e := newEnv(context.Background(), s)
		if _, err := e.vm.RunProgram(s.prog); err != nil {
			panic(err)
		}
		return e
	}}
	pooled := func(b *testing.B) {
		e := pool.Get().(*env)
		call(b, e)
		pool.Put(e)
	}
	for _, tc := range []struct {
		name string
		f    func(*testing.B)
	}{{"fresh", fresh}, {"pooled", pooled}} {
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.f(b)
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tc.f(b)
				}
			})
		})
	}
}
