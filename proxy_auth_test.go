package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// schemeProxy offers several schemes and accepts whichever of them is
// switched on, in the shape each scheme has: Negotiate in one leg, NTLM in
// two legs bound to the connection, Basic with the test credentials.
type schemeProxy struct {
	offer       []string // the Proxy-Authenticate fields of a fresh 407
	negotiateOK bool
	ntlmOK      bool
	basicOK     bool
	final       string        // a Proxy-Authenticate field for the 200, if any
	sticky      bool          // refuse all on a connection once a credential failed there, as squid does
	ended       chan struct{} // when set, told of each tunnel's end

	mu    sync.Mutex
	conns int
	sent  []string // every Proxy-Authorization, "" for none, in order
}

func (p *schemeProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

func (p *schemeProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	p.mu.Lock()
	p.conns++
	challenge := fmt.Sprintf("challenge-%d", p.conns)
	p.mu.Unlock()
	failed := false
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		authz := req.Header.Get("Proxy-Authorization")
		p.mu.Lock()
		p.sent = append(p.sent, authz)
		p.mu.Unlock()
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testPassword))
		switch {
		case failed && p.sticky:
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
			continue
		case authz == "Negotiate ticket" && p.negotiateOK,
			authz == "NTLM type3-"+challenge && p.ntlmOK,
			authz == basic && p.basicOK:
			reply := "HTTP/1.1 200 Connection established\r\n"
			if p.final != "" {
				reply += "Proxy-Authenticate: " + p.final + "\r\n"
			}
			io.WriteString(c, reply+"\r\n")
			io.Copy(c, br)
			if p.ended != nil {
				p.ended <- struct{}{}
			}
			return
		case authz == "NTLM type1":
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM "+challenge+"\r\nContent-Length: 0\r\n\r\n")
		default:
			failed = authz != ""
			reply := "HTTP/1.1 407 Proxy Authentication Required\r\n"
			for _, o := range p.offer {
				reply += "Proxy-Authenticate: " + o + "\r\n"
			}
			io.WriteString(c, reply+"Content-Length: 4\r\n\r\nwho?")
		}
	}
}

// fakeScheme is a client for one of schemeProxy's schemes. It records the
// headers Verify is given.
type fakeScheme struct {
	scheme   string
	startErr error
	verify   error

	mu       sync.Mutex
	verified []http.Header
}

func (f *fakeScheme) Scheme() string { return f.scheme }

func (f *fakeScheme) Start(context.Context, *url.URL) (ProxyAuthSession, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &fakeSession{f: f}, nil
}

type fakeSession struct {
	f    *fakeScheme
	legs int
}

func (s *fakeSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	s.legs++
	switch s.f.scheme {
	case "Negotiate":
		// Waits for the challenge, as a Negotiate client does, and has one
		// ticket to give.
		if challenge == nil || s.legs > 2 {
			return "", nil
		}
		return "Negotiate ticket", nil
	case "NTLM":
		if challenge == nil {
			return "NTLM type1", nil
		}
		v := challenge.Header.Get("Proxy-Authenticate")
		if rest, ok := strings.CutPrefix(v, "NTLM "); ok && !challenge.Close {
			return "NTLM type3-" + rest, nil
		}
		return "", nil
	}
	return "", fmt.Errorf("no such scheme %s", s.f.scheme)
}

func (s *fakeSession) Verify(_ context.Context, h http.Header) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.verified = append(s.f.verified, h)
	return s.f.verify
}

// TestProxyAnyAuth checks the choice of scheme among several
// authenticators: the strongest the proxy offers first, then the next when
// one fails, whatever the order of the offer and of the authenticators.
func TestProxyAnyAuth(t *testing.T) {
	noTicket := errors.New("no Kerberos credentials")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testPassword))
	all := []string{"Basic realm=\"a, b\"", "NTLM", "Negotiate"}
	for _, tc := range []struct {
		name      string
		proxy     *schemeProxy
		negStart  error
		want      []string // the Proxy-Authorization values, in order
		wantErr   string   // "" for a tunnel
		wantCause error
		conns     int  // when set, the connections the proxy must see
		noUser    bool // the proxy URL has no user information
	}{
		{name: "Negotiate first", proxy: &schemeProxy{offer: all, negotiateOK: true, ntlmOK: true, basicOK: true},
			want: []string{"", "Negotiate ticket"}},
		{name: "one field, comma-separated", proxy: &schemeProxy{offer: []string{`Basic realm="x", NTLM, Negotiate`}, ntlmOK: true},
			negStart: noTicket, want: []string{"", "NTLM type1", "NTLM type3-challenge-1"}},
		{name: "Negotiate refused, then NTLM", proxy: &schemeProxy{offer: all, ntlmOK: true},
			want: []string{"", "Negotiate ticket", "NTLM type1", "NTLM type3-challenge-2"}, conns: 2},
		{name: "no ticket, NTLM refused, then Basic", proxy: &schemeProxy{offer: all, basicOK: true},
			negStart: noTicket, want: []string{"", "NTLM type1", "NTLM type3-challenge-1", basic}, conns: 2},
		{name: "a proxy that holds on to a refusal", proxy: &schemeProxy{offer: all, basicOK: true, sticky: true},
			want: []string{"", "Negotiate ticket", "NTLM type1", "NTLM type3-challenge-2", basic}, conns: 3},
		{name: "every scheme refused", proxy: &schemeProxy{offer: all},
			want: []string{"", "Negotiate ticket", "NTLM type1", "NTLM type3-challenge-2", basic}, conns: 3,
			wantErr: "Negotiate: refused by the proxy; NTLM: refused by the proxy; Basic: refused by the proxy"},
		{name: "the failure says why", proxy: &schemeProxy{offer: []string{"Negotiate", "NTLM"}},
			negStart: noTicket, want: []string{"", "NTLM type1", "NTLM type3-challenge-1"}, conns: 1,
			wantErr: "Negotiate: no Kerberos credentials; NTLM: refused by the proxy", wantCause: noTicket},
		{name: "only Basic offered", proxy: &schemeProxy{offer: []string{"Basic realm=x"}, basicOK: true},
			want: []string{"", basic}},
		{name: "nothing in common", proxy: &schemeProxy{offer: []string{"Digest realm=x, nonce=\"1\"", "Bearer"}},
			want: []string{""}, wantErr: "the proxy offers Digest, Bearer; this Dialer authenticates with Negotiate, NTLM, Basic"},
		{name: "nothing to send", proxy: &schemeProxy{offer: []string{"Basic realm=x"}}, noUser: true,
			want: []string{""}, wantErr: "Basic: no credentials to send"},
		{name: "nothing offered", proxy: &schemeProxy{},
			want: []string{""}, wantErr: "the proxy's 407 offers no authentication scheme"},
		{name: "no proxy authentication", proxy: &schemeProxy{offer: all, negotiateOK: true},
			want: []string{"", "Negotiate ticket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := tc.proxy
			addr, _ := serve(t, nil, p.handle)
			neg := &fakeScheme{scheme: "Negotiate", startErr: tc.negStart}
			ntlm := &fakeScheme{scheme: "NTLM"}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// Given weakest first: the Dialer ranks them.
			proxy := "http://u:" + testPassword + "@" + addr
			if tc.noUser {
				proxy = "http://" + addr
			}
			d := mustNew(t, WithProxy(proxy), WithLogger(logger),
				WithProxyAuthenticator(BasicProxyAuth(), ntlm, neg))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if got := p.seen(); !slices.Equal(got, tc.want) {
				t.Errorf("Proxy-Authorization sent: %q, want %q", got, tc.want)
			}
			if p.mu.Lock(); tc.conns != 0 && p.conns != tc.conns {
				t.Errorf("the proxy saw %d connections, want %d: a new one for each scheme after a failure", p.conns, tc.conns)
			}
			p.mu.Unlock()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				echo(t, c)
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("the tunnel opened")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.StatusCode != 407 || !errors.Is(err, ErrProxyAuthRequired) {
				t.Errorf("err = %v, want a 407 *ProxyError matching ErrProxyAuthRequired", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to hold %q", err, tc.wantErr)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("err = %v, want it to match %v", err, tc.wantCause)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()} {
				if strings.Contains(text, testPassword) || strings.Contains(text, basic[len("Basic "):]) {
					t.Errorf("a credential shows in %q", text)
				}
			}
		})
	}
}

// TestProxyAuthFallbackRounds checks that each scheme tried gets its own
// rounds, within the bound that several authenticators allow.
func TestProxyAuthFallbackRounds(t *testing.T) {
	checkGoroutines(t)
	// A proxy that challenges forever: the bound grows with the authenticators.
	var mu sync.Mutex
	reqs := 0
	addr, _ := serve(t, nil, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			mu.Lock()
			reqs++
			mu.Unlock()
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
		}
	})
	d := mustNew(t, WithProxy("http://u:"+testPassword+"@"+addr),
		WithProxyAuthenticator(endlessNTLM{}, BasicProxyAuth()))
	if c, err := d.DialContext(context.Background(), "tcp", "target.example:443"); err == nil {
		c.Close()
		t.Fatal("the tunnel opened")
	} else if !errors.Is(err, ErrProxyAuthRequired) {
		t.Errorf("err = %v, want ErrProxyAuthRequired", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := maxAuthRounds + roundsPerFallback; reqs != want {
		t.Errorf("proxy saw %d requests, want %d", reqs, want)
	}
}

// endlessNTLM is an NTLM client that always has another message.
type endlessNTLM struct{}

func (endlessNTLM) Scheme() string { return "NTLM" }
func (endlessNTLM) Start(context.Context, *url.URL) (ProxyAuthSession, error) {
	return endlessNTLM{}, nil
}
func (endlessNTLM) Next(context.Context, *http.Response) (string, error) { return "NTLM again", nil }

// TestProxyAuthVerify checks that a verifying session sees the reply that
// opened the tunnel, and that its refusal closes the tunnel.
func TestProxyAuthVerify(t *testing.T) {
	notProved := errors.New("the final token does not verify")
	for _, tc := range []struct {
		name    string
		several bool
		verify  error
	}{
		{name: "alone, accepted"},
		{name: "alone, refused", verify: notProved},
		{name: "among several, accepted", several: true},
		{name: "among several, refused", several: true, verify: notProved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := &schemeProxy{offer: []string{"Negotiate"}, negotiateOK: true, final: "Negotiate final-token", ended: make(chan struct{}, 1)}
			addr, _ := serve(t, nil, p.handle)
			neg := &fakeScheme{scheme: "Negotiate", verify: tc.verify}
			auths := []ProxyAuthenticator{neg}
			if tc.several {
				auths = append(auths, BasicProxyAuth())
			}
			d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(auths...))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if len(neg.verified) != 1 || neg.verified[0].Get("Proxy-Authenticate") != "Negotiate final-token" {
				t.Errorf("Verify saw %v, want the 200's Proxy-Authenticate", neg.verified)
			}
			if tc.verify == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				echo(t, c)
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("the tunnel opened")
			}
			if !errors.Is(err, tc.verify) || !errors.Is(err, ErrProxy) || errors.Is(err, ErrProxyAuthRequired) {
				t.Errorf("err = %v, want ErrProxy wrapping the verifier's error", err)
			}
			<-p.ended // the tunnel was closed, or this waits for the test's timeout
		})
	}
}

// TestProxyAuthenticatorOption covers WithProxyAuthenticator's forms: one
// authenticator is used for every 407 whatever its scheme, none goes back
// to Basic, and several that do not all name a scheme are refused.
func TestProxyAuthenticatorOption(t *testing.T) {
	t.Run("one is used whatever it names", func(t *testing.T) {
		p := &schemeProxy{offer: []string{"Basic"}, negotiateOK: true}
		addr, _ := serve(t, nil, p.handle)
		d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(&fakeScheme{scheme: "Negotiate"}))
		c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := p.seen(); !slices.Equal(got, []string{"", "Negotiate ticket"}) {
			t.Errorf("sent %q", got)
		}
	})
	t.Run("none is Basic", func(t *testing.T) {
		p := &schemeProxy{offer: []string{"Basic"}, basicOK: true}
		addr, _ := serve(t, nil, p.handle)
		d := mustNew(t, WithProxy("http://u:"+testPassword+"@"+addr),
			WithProxyAuthenticator(&fakeScheme{scheme: "NTLM"}), WithProxyAuthenticator())
		c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := p.seen(); len(got) != 1 || !strings.HasPrefix(got[0], "Basic ") {
			t.Errorf("sent %q, want Basic with the first request", got)
		}
	})
	for _, tc := range []struct {
		name  string
		auths []ProxyAuthenticator
		want  string
	}{
		{"unnamed", []ProxyAuthenticator{&negotiator{}, BasicProxyAuth()}, "does not name its scheme"},
		{"nil", []ProxyAuthenticator{nil, BasicProxyAuth()}, "does not name its scheme"},
		{"not a token", []ProxyAuthenticator{&fakeScheme{scheme: "NTLM x"}, BasicProxyAuth()}, "is not a token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(WithProxyAuthenticator(tc.auths...))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

// noSession is an authenticator whose Start returns neither a session nor an
// error.
type noSession struct{ scheme string }

func (n noSession) Scheme() string { return n.scheme }

func (noSession) Start(context.Context, *url.URL) (ProxyAuthSession, error) { return nil, nil }

// TestProxyAuthenticatorNoSession checks that an authenticator that returns
// no session fails the dial as a proxy error that says so, alone or among
// several, rather than panicking.
func TestProxyAuthenticatorNoSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		auths []ProxyAuthenticator
	}{
		{"alone", []ProxyAuthenticator{noSession{}}},
		{"among several", []ProxyAuthenticator{noSession{"NTLM"}, noSession{"Negotiate"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &schemeProxy{offer: []string{"NTLM", "Negotiate"}}
			addr, _ := serve(t, nil, p.handle)
			d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(tc.auths...))
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("the dial panics: %v", r)
					}
				}()
				_, err = d.DialContext(context.Background(), "tcp", "target.example:443")
			}()
			checkClass(t, err, ErrProxy)
			if err == nil || !strings.Contains(err.Error(), "no session") {
				t.Errorf("error %v does not say that the authenticator gave no session", err)
			}
		})
	}
}
