package wsdial

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsdial/wsdial/wsdialtest"
)

// The five classes of failure: each error of New, a dial or Handshake
// matches exactly one of them (checkClass), and a timeout or a cancellation
// matches its stage's class and the context's error.

// notWebSocket serves a 404 to every request, for a declined upgrade.
func notWebSocket(t *testing.T) string {
	return serveRaw(t, "tcp", func(c net.Conn) {
		if _, _, err := readUpgrade(c); err == nil {
			io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		}
	})
}

// TestEachErrorHasOneClass makes every entry point fail at every stage it
// has, and checks that each error matches the class of that stage and no
// other.
func TestEachErrorHasOneClass(t *testing.T) {
	closed := closedAddr(t)
	_, closedPort, _ := net.SplitHostPort(closed)
	notWS := notWebSocket(t)
	tlsSrv := wsdialtest.NewTLSEchoServer() // its certificate is not in the system roots
	defer tlsSrv.Close()
	tlsAddr := strings.TrimSuffix(strings.TrimPrefix(tlsSrv.URL, "wss://"), "/")
	authProxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("u", "p"))
	defer authProxy.Close()
	socks := wsdialtest.NewSOCKS5Proxy()
	defer socks.Close()
	openProxy := wsdialtest.NewProxy()
	defer openProxy.Close()
	ctx := context.Background()

	direct := func(opts ...Option) *Dialer { return mustNew(t, append([]Option{WithoutProxy()}, opts...)...) }
	via := func(proxy string, opts ...Option) *Dialer {
		return mustNew(t, append([]Option{WithProxy(proxy)}, opts...)...)
	}
	ws := func(d *Dialer, url string) error {
		c, err := d.DialWebSocket(ctx, url)
		if err == nil {
			c.Close()
		}
		return err
	}
	stream := func(c net.Conn, err error) error {
		if err == nil {
			c.Close()
		}
		return err
	}
	handshakeOn := func(addr string, opts ...Option) error {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, err = Handshake(ctx, nc, "example.test", "/", opts...)
		return err
	}
	newErr := func(opts ...Option) error {
		_, err := New(opts...)
		return err
	}
	failingFunc := func(*url.URL) (*url.URL, error) { return nil, errors.New("no proxy for you") }

	tests := []struct {
		name  string
		class error
		err   func() error
	}{
		{"New: a header the handshake owns", ErrInvalid, func() error { return newErr(WithHeader(http.Header{"Upgrade": {"h2c"}})) }},
		{"New: CR LF in a header", ErrInvalid, func() error { return newErr(WithHeader(http.Header{"X-A": {"a\r\nX-B: b"}})) }},
		{"New: a proxy URL that does not parse", ErrInvalid, func() error { return newErr(WithProxy("http://[::1")) }},
		{"New: a proxy scheme not supported", ErrInvalid, func() error { return newErr(WithProxy("ftp://127.0.0.1:1")) }},
		{"New: a bad subprotocol", ErrInvalid, func() error { return newErr(WithSubprotocols("a b")) }},
		{"New: a proxy port out of range", ErrInvalid, func() error { return newErr(WithProxy("http://127.0.0.1:99999")) }},
		{"New: a proxy port of 0", ErrInvalid, func() error { return newErr(WithProxy("socks5://127.0.0.1:0")) }},
		{"New: a nil option", ErrInvalid, func() error { return newErr(WithoutProxy(), nil) }},
		{"DialWebSocket: a URL that does not parse", ErrInvalid, func() error { return ws(direct(), "ws://[::1/") }},
		{"DialWebSocket: a port out of range", ErrInvalid, func() error { return ws(direct(), "ws://127.0.0.1:99999/") }},
		{"DialWebSocket: user information", ErrInvalid, func() error { return ws(direct(), "ws://u:p@"+notWS+"/") }},
		{"DialContext: an unsupported network", ErrInvalid, func() error { return stream(direct().DialContext(ctx, "udp", closed)) }},
		{"DialTLSContext: no port", ErrInvalid, func() error { return stream(direct().DialTLSContext(ctx, "tcp", "127.0.0.1")) }},
		{"Dial: a port out of range", ErrInvalid, func() error { return stream(direct().Dial("tcp", "127.0.0.1:70000")) }},
		{"Handshake: a header the handshake owns", ErrInvalid, func() error {
			return handshakeOn(notWS, WithHeader(http.Header{"Sec-WebSocket-Key": {"x"}}))
		}},
		{"Handshake: a nil option", ErrInvalid, func() error { return handshakeOn(notWS, nil) }},
		{"Handshake: no connection", ErrInvalid, func() error {
			_, err := Handshake(ctx, nil, "example.test", "/")
			return err
		}},

		{"DialWebSocket: no proxy listening", ErrProxy, func() error { return ws(via("http://"+closed), "ws://"+notWS+"/") }},
		{"DialWebSocket: the proxy wants credentials", ErrProxy, func() error { return ws(via(authProxy.URL), "ws://"+notWS+"/") }},
		{"DialWebSocket: SOCKS5 cannot reach the target", ErrProxy, func() error { return ws(via(socks.URL), "ws://"+closed+"/") }},
		{"DialContext: the proxy refuses the target", ErrProxy, func() error { return stream(via(openProxy.URL).DialContext(ctx, "tcp", "127.0.0.1:"+closedPort)) }},
		{"DialTLSContext: no proxy listening", ErrProxy, func() error { return stream(via("http://"+closed).DialTLSContext(ctx, "tcp", tlsAddr)) }},
		{"Dial: the proxy function fails", ErrProxy, func() error { return stream(mustNew(t, WithProxyFunc(failingFunc)).Dial("tcp", closed)) }},
		{"DialWebSocket: the proxy function names a port out of range", ErrProxy, func() error {
			return ws(mustNew(t, WithProxyFunc(func(*url.URL) (*url.URL, error) { return url.Parse("http://127.0.0.1:99999") })), "ws://"+notWS+"/")
		}},

		{"DialWebSocket: nothing listening", ErrDial, func() error { return ws(direct(), "ws://"+closed+"/") }},
		{"DialWebSocket: the name does not resolve", ErrDial, func() error { return ws(direct(WithNetDialer(noDNS())), "ws://nowhere.test/") }},
		{"DialContext: nothing listening", ErrDial, func() error { return stream(direct().DialContext(ctx, "tcp", closed)) }},
		{"DialTLSContext: nothing listening", ErrDial, func() error { return stream(direct().DialTLSContext(ctx, "tcp", closed)) }},
		{"Dial: nothing listening", ErrDial, func() error { return stream(direct().Dial("tcp", closed)) }},

		{"DialWebSocket: an untrusted certificate", ErrTLS, func() error { return ws(direct(), tlsSrv.URL) }},
		{"DialWebSocket: an untrusted certificate, through a proxy", ErrTLS, func() error { return ws(via(openProxy.URL), tlsSrv.URL) }},
		{"DialTLSContext: an untrusted certificate", ErrTLS, func() error { return stream(direct().DialTLSContext(ctx, "tcp", tlsAddr)) }},
		{"DialTLSContext: a server that is not TLS", ErrTLS, func() error { return stream(direct().DialTLSContext(ctx, "tcp", notWS)) }},

		{"DialWebSocket: a 404", ErrHandshake, func() error { return ws(direct(), "ws://"+notWS+"/") }},
		{"DialWebSocket: a 404, through a proxy", ErrHandshake, func() error { return ws(via(openProxy.URL), "ws://"+notWS+"/") }},
		{"Handshake: a 404", ErrHandshake, func() error { return handshakeOn(notWS) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkClass(t, tt.err(), tt.class)
		})
	}
}

// stalled returns the address of a server that reads what it is sent and
// never answers, and a channel that receives once the first bytes of each
// connection have arrived.
func stalled(t *testing.T) (string, <-chan struct{}) {
	reached := make(chan struct{}, 16)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		if _, err := c.Read(make([]byte, 1)); err == nil {
			reached <- struct{}{}
		}
		io.Copy(io.Discard, c) // until the client or the cleanup closes c
	})
	return addr, reached
}

// TestTimeoutsKeepTheirClass stalls a dial in each stage, and ends it by
// WithHandshakeTimeout, by the context's deadline and by cancelling the
// context: each error matches the stage's class alone, and the context's
// error.
func TestTimeoutsKeepTheirClass(t *testing.T) {
	never := make(chan struct{}) // a connect to a full backlog reaches no one: cancel at once
	close(never)
	stages := []struct {
		name  string
		class error
		// start starts the stalling peer, fresh for each way of ending, and
		// says where to dial, how, and when the dial is held.
		start func(t *testing.T) (url string, opts []Option, reached <-chan struct{})
	}{
		{"proxy", ErrProxy, func(t *testing.T) (string, []Option, <-chan struct{}) {
			proxy, reached := stalled(t)
			return "ws://127.0.0.1:1/", []Option{WithProxy("http://" + proxy)}, reached
		}},
		{"dial", ErrDial, func(t *testing.T) (string, []Option, <-chan struct{}) {
			return "ws://" + fullBacklog(t) + "/", []Option{WithoutProxy()}, never
		}},
		{"tls", ErrTLS, func(t *testing.T) (string, []Option, <-chan struct{}) {
			addr, reached := stalled(t)
			return "wss://" + addr + "/", []Option{WithoutProxy()}, reached
		}},
		{"handshake", ErrHandshake, func(t *testing.T) (string, []Option, <-chan struct{}) {
			addr, reached := stalled(t)
			return "ws://" + addr + "/", []Option{WithoutProxy()}, reached
		}},
	}
	for _, st := range stages {
		for _, end := range []struct {
			name    string
			want    error
			timeout time.Duration // WithHandshakeTimeout's
			ctx     func(reached <-chan struct{}) (context.Context, context.CancelFunc)
		}{
			{"handshake timeout", context.DeadlineExceeded, 50 * time.Millisecond, func(<-chan struct{}) (context.Context, context.CancelFunc) {
				return context.Background(), func() {}
			}},
			{"context deadline", context.DeadlineExceeded, time.Minute, func(<-chan struct{}) (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
			{"cancel", context.Canceled, time.Minute, func(reached <-chan struct{}) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					select {
					case <-reached: // the dial is held in this stage
					case <-ctx.Done():
					}
					cancel()
				}()
				return ctx, cancel
			}},
		} {
			t.Run(st.name+"/"+end.name, func(t *testing.T) {
				url, opts, reached := st.start(t)
				ctx, cancel := end.ctx(reached)
				defer cancel()
				_, err := mustNew(t, append(opts, WithHandshakeTimeout(end.timeout))...).DialWebSocket(ctx, url)
				checkClass(t, err, st.class)
				if !errors.Is(err, end.want) {
					t.Errorf("error %v does not match %v", err, end.want)
				}
			})
		}
	}
}

// TestRefusedBeforeTheContext checks that an invalid argument is refused as
// such even when the context has already ended: nothing was tried.
func TestRefusedBeforeTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var d Dialer
	_, err := d.DialWebSocket(ctx, "ftp://127.0.0.1/")
	checkClass(t, err, ErrInvalid)
	if errors.Is(err, context.Canceled) {
		t.Errorf("error %v blames the context for an invalid URL", err)
	}
}

// TestRefusedBeforeAnyTraffic dials URLs that parse but cannot stand in a
// request (a space in the query or in an IPv6 zone, which url.Parse lets
// through), directly and through a proxy, and checks that each is refused
// as ErrInvalid with no connection made to the server or the proxy.
func TestRefusedBeforeAnyTraffic(t *testing.T) {
	var accepted atomic.Int32
	counter := func(network string) string {
		return serveRaw(t, network, func(net.Conn) { accepted.Add(1) })
	}
	addr := counter("tcp")
	_, port, _ := net.SplitHostPort(addr)
	direct := mustNew(t, WithoutProxy(), WithHandshakeTimeout(10*time.Second))
	via := mustNew(t, WithProxy("http://"+addr), WithHandshakeTimeout(10*time.Second))
	for _, tt := range []struct {
		name string
		d    *Dialer
		url  string
	}{
		{"a space in the query", direct, "ws://" + addr + "/?a b"},
		{"a space in the query, through a proxy", via, "ws://127.0.0.1:" + port + "/?a b"},
		{"a space in the IPv6 zone, through a proxy", via, "ws://[::1%25lo%20x]:" + port + "/"},
		{"a space in the IPv6 zone of an https URL, through a proxy", via, "https://[::1%25lo%20x]:" + port + "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := accepted.Load()
			c, err := tt.d.DialWebSocket(context.Background(), tt.url)
			if err == nil {
				c.Close()
			}
			checkClass(t, err, ErrInvalid)
			if n := accepted.Load() - before; n != 0 {
				t.Errorf("%d connections were made before the URL was refused", n)
			}
		})
	}
}
