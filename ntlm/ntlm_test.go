package ntlm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	ntlmssp "github.com/Azure/go-ntlmssp"
	"github.com/wsdial/wsdial"
)

// squidChallenge is the CHALLENGE message that squid 5.7's ntlm_fake_auth
// sent to go-ntlmssp's NEGOTIATE message: 49 bytes, its TargetName pointing
// at 0xaaaaaaae, and "WORKGROUP" written over its TargetInfo field.
const squidChallenge = "TlRMTVNTUAACAAAACQAJAK6qqqoBgoigPFbDFxmMBqIAAAAAAAA6AFdPUktHUk9VUA=="

// ntlmAlone answers a challenge with go-ntlmssp and no normalisation.
func ntlmAlone(challenge []byte) ([]byte, error) {
	return ntlmssp.NewAuthenticateMessage(challenge, "u", "pw", nil)
}

func start(t *testing.T, userinfo *url.Userinfo) *session {
	t.Helper()
	s, err := New().Start(context.Background(), &url.URL{Scheme: "http", Host: "proxy.example:3128", User: userinfo})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*session)
}

func challenge407(close bool, fields ...string) *http.Response {
	h := http.Header{}
	for _, f := range fields {
		h.Add("Proxy-Authenticate", f)
	}
	return &http.Response{StatusCode: 407, Header: h, Close: close, Body: http.NoBody}
}

// decodeAuthenticate reads the fields of an AUTHENTICATE message.
type authenticateFields struct {
	lm, nt, domain, user, workstation []byte
	flags                             uint32
}

func decodeAuthenticate(t *testing.T, authz string) authenticateFields {
	t.Helper()
	b64, ok := strings.CutPrefix(authz, "NTLM ")
	if !ok {
		t.Fatalf("Proxy-Authorization %q is not NTLM", authz)
	}
	msg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(msg) < 64 || string(msg[:8]) != "NTLMSSP\x00" || msg[8] != 3 {
		t.Fatalf("not an AUTHENTICATE message: %x (%v)", msg, err)
	}
	return authenticateFields{
		lm: field(msg, 12), nt: field(msg, 20), domain: field(msg, 28), user: field(msg, 36), workstation: field(msg, 44),
		flags: binary.LittleEndian.Uint32(msg[60:]),
	}
}

// checkNTLMv2 checks an NtChallengeResponse against the oracle: its
// NTProofStr must be the one the specification computes over the blob it
// carries, for the given key and server challenge.
func checkNTLMv2(t *testing.T, nt, key, serverChallenge, targetInfo []byte) {
	t.Helper()
	if len(nt) < 16+28+4 {
		t.Fatalf("NtChallengeResponse of %d bytes is no NTLMv2 response", len(nt))
	}
	blob := nt[16:]
	if want := temp(blob[8:16], blob[16:24], targetInfo); !bytes.Equal(blob, want) {
		t.Errorf("NTLMv2 blob = %x, want %x", blob, want)
	}
	if proof := hmacMD5(key, serverChallenge, blob); !bytes.Equal(nt[:16], proof) {
		t.Errorf("NTProofStr = %x, want %x", nt[:16], proof)
	}
}

// TestAuthenticateSpecChallenge answers §4.2.4.3's CHALLENGE_MESSAGE and
// holds the AUTHENTICATE message to the oracle: the names of §4.2.1, and an
// NTLMv2 response over the challenge's TargetInfo. The client challenge and
// time are the library's own (random, and now), so the check recomputes
// NTProofStr from the ones the message carries.
func TestAuthenticateSpecChallenge(t *testing.T) {
	s := start(t, url.UserPassword(specDomain+`\`+specUser, specPassword))
	if _, err := s.Next(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	authz, err := s.Next(context.Background(), challenge407(false, "NTLM "+base64.StdEncoding.EncodeToString(specChallenge)))
	if err != nil {
		t.Fatal(err)
	}
	m := decodeAuthenticate(t, authz)
	if !bytes.Equal(m.user, utf16le(specUser)) || !bytes.Equal(m.domain, utf16le(specDomain)) || len(m.workstation) != 0 {
		t.Errorf("user %q, domain %q, workstation %q", m.user, m.domain, m.workstation)
	}
	checkNTLMv2(t, m.nt, specNTOWFv2, specServerChallenge, specTargetInfo)
	if m.flags&flagKeyExch != 0 {
		t.Errorf("flags %#x keep NEGOTIATE_KEY_EXCH, which no key is sent for", m.flags)
	}
}

// TestUserForms checks the three ways to name the account.
func TestUserForms(t *testing.T) {
	for _, tc := range []struct {
		rawURL       string
		user, domain string
	}{
		{"http://CORP%5Cjane:pw@proxy:3128", "jane", "CORP"},
		{"http://jane%40corp.example:pw@proxy:3128", "jane@corp.example", ""},
		{"http://jane:pw@proxy:3128", "jane", ""},
	} {
		u, err := url.Parse(tc.rawURL)
		if err != nil {
			t.Fatal(err)
		}
		s := start(t, u.User)
		s.Next(context.Background(), nil)
		authz, err := s.Next(context.Background(), challenge407(false, "NTLM "+base64.StdEncoding.EncodeToString(specChallenge)))
		if err != nil {
			t.Fatal(err)
		}
		m := decodeAuthenticate(t, authz)
		if !bytes.Equal(m.user, utf16le(tc.user)) || !bytes.Equal(m.domain, utf16le(tc.domain)) {
			t.Errorf("%s: user %q, domain %q", tc.rawURL, m.user, m.domain)
		}
		checkNTLMv2(t, m.nt, ntowfv2("pw", tc.user, tc.domain), specServerChallenge, specTargetInfo)
	}
}

// TestSquidFakeChallenge answers the challenge that go-ntlmssp alone
// refuses, with an NTLMv2 response and no TargetInfo.
func TestSquidFakeChallenge(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(squidChallenge)
	if _, err := ntlmAlone(raw); err == nil || !strings.Contains(err.Error(), "varField extends beyond buffer") {
		t.Fatalf("go-ntlmssp alone: %v; the normalisation this package does may no longer be needed", err)
	}
	s := start(t, url.UserPassword(`WORKGROUP\u`, "pw"))
	s.Next(context.Background(), nil)
	authz, err := s.Next(context.Background(), challenge407(false, "NTLM "+squidChallenge))
	if err != nil {
		t.Fatal(err)
	}
	m := decodeAuthenticate(t, authz)
	checkNTLMv2(t, m.nt, ntowfv2("pw", "u", "WORKGROUP"), raw[24:32], nil)
}

// TestNormalize covers the forms of challenge that normalize rewrites or
// refuses.
func TestNormalize(t *testing.T) {
	spec := func(edit func(b []byte)) []byte {
		b := bytes.Clone(specChallenge)
		edit(b)
		return b
	}
	flags := func(b []byte) uint32 { return binary.LittleEndian.Uint32(b[flagsField:]) }
	for _, tc := range []struct {
		name    string
		in      []byte
		err     string
		check   func(t *testing.T, out []byte)
		answers bool
	}{
		{name: "spec", in: specChallenge, answers: true, check: func(t *testing.T, out []byte) {
			if !bytes.Equal(field(out, targetInfoField), specTargetInfo) || flags(out)&flagKeyExch != 0 {
				t.Errorf("TargetInfo %x, flags %#x", field(out, targetInfoField), flags(out))
			}
		}},
		{name: "32-byte form", in: specChallenge[:32], answers: true, check: func(t *testing.T, out []byte) {
			if len(out) != fullChallenge || field(out, targetInfoField) != nil && len(field(out, targetInfoField)) != 0 {
				t.Errorf("%d bytes, TargetInfo %x", len(out), field(out, targetInfoField))
			}
		}},
		{name: "TargetInfo beyond the message", answers: true, in: spec(func(b []byte) { b[targetInfoField+4] = 0xff }), check: func(t *testing.T, out []byte) {
			if binary.LittleEndian.Uint64(out[targetInfoField:]) != 0 {
				t.Errorf("TargetInfo field %x kept", out[targetInfoField:targetInfoField+8])
			}
		}},
		{name: "LM_KEY with ESS", answers: true, in: spec(func(b []byte) { b[flagsField] |= flagLMKey }), check: func(t *testing.T, out []byte) {
			if flags(out)&flagLMKey != 0 {
				t.Errorf("flags %#x", flags(out))
			}
		}},
		{name: "LM_KEY alone", in: spec(func(b []byte) {
			binary.LittleEndian.PutUint32(b[flagsField:], flags(b)&^flagESS|flagLMKey)
		}), check: func(t *testing.T, out []byte) {
			if flags(out)&flagLMKey == 0 {
				t.Errorf("flags %#x", flags(out))
			}
		}},
		{name: "short", in: specChallenge[:31], err: "fewer than"},
		{name: "NEGOTIATE", in: spec(func(b []byte) { b[8] = 1 }), err: "not an NTLM CHALLENGE"},
		{name: "signature", in: spec(func(b []byte) { b[0] = 'M' }), err: "not an NTLM CHALLENGE"},
		{name: "huge", in: append(bytes.Clone(specChallenge), make([]byte, maxChallenge)...), err: "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Clone(tc.in)
			out, err := normalize(tc.in)
			if !bytes.Equal(in, tc.in) {
				t.Error("normalize changed its input")
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, out)
			_, err = authenticate(tc.in, "u", "pw")
			if tc.answers != (err == nil) {
				t.Errorf("authenticate: %v", err)
			}
		})
	}
}

// TestSessionStates walks a session through the replies a proxy can give.
func TestSessionStates(t *testing.T) {
	ctx := context.Background()
	ch := "NTLM " + base64.StdEncoding.EncodeToString(specChallenge)
	isNegotiate := func(authz string) bool {
		b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "NTLM "))
		return len(b) > 12 && string(b[:8]) == "NTLMSSP\x00" && b[8] == 1
	}
	s := start(t, url.UserPassword("u", "pw"))
	if authz, err := s.Next(ctx, nil); err != nil || !isNegotiate(authz) {
		t.Fatalf("first: %q, %v", authz, err)
	}
	// The proxy closed before it challenged: start over on the new
	// connection, once.
	if authz, err := s.Next(ctx, challenge407(true, "NTLM")); err != nil || !isNegotiate(authz) {
		t.Fatalf("after a close: %q, %v", authz, err)
	}
	if _, err := s.Next(ctx, challenge407(true, "NTLM")); err == nil || !strings.Contains(err.Error(), "closed the connection again") {
		t.Fatalf("after a second close: %v", err)
	}
	// The proxy closed the connection its challenge is bound to: give up.
	s = start(t, url.UserPassword("u", "pw"))
	s.Next(ctx, nil)
	if _, err := s.Next(ctx, challenge407(true, ch)); err == nil || !strings.Contains(err.Error(), "closed the connection its challenge is bound to") {
		t.Fatalf("a close after the challenge: %v", err)
	}
	s = start(t, url.UserPassword("u", "pw"))
	s.Next(ctx, nil)
	if _, err := s.Next(ctx, challenge407(false, "Basic realm=x", "NTLM")); err == nil || !strings.Contains(err.Error(), "without a challenge") {
		t.Fatalf("no challenge: %v", err)
	}
	s = start(t, url.UserPassword("u", "pw"))
	s.Next(ctx, nil)
	if _, err := s.Next(ctx, challenge407(false, `Basic realm="x", `+ch)); err != nil {
		t.Fatalf("challenge among others: %v", err)
	}
	if _, err := s.Next(ctx, challenge407(false, "NTLM", "Basic")); err == nil || !strings.Contains(err.Error(), "refused the credentials of u") {
		t.Fatalf("refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"not offered", []string{"Basic realm=x"}, "does not offer NTLM"},
		{"not base64", []string{"NTLM !!!"}, "without a challenge"},
		{"bad base64", []string{"NTLM TlRMTVNTUAACAAAA="}, "not base64"},
		{"garbage", []string{"NTLM " + base64.StdEncoding.EncodeToString([]byte("hello, proxy"))}, "fewer than"},
	} {
		s := start(t, url.UserPassword("u", "pw"))
		s.Next(ctx, nil)
		if _, err := s.Next(ctx, challenge407(false, tc.fields...)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		user *url.Userinfo
		want string
	}{
		{nil, "no user information"},
		{url.User("u"), "no password"},
		{url.UserPassword("", "pw"), "no user name"},
		{url.UserPassword(`CORP\`, "pw"), "names no domain or no user"},
		{url.UserPassword(`\u`, "pw"), "names no domain or no user"},
	} {
		_, err := New().Start(context.Background(), &url.URL{Scheme: "http", Host: "p:1", User: tc.user})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw") {
			t.Errorf("%v: %v, want %q", tc.user, err, tc.want)
		}
	}
}

// FuzzChallenge answers arbitrary challenges: never a panic, and never an
// error that shows the password.
func FuzzChallenge(f *testing.F) {
	raw, _ := base64.StdEncoding.DecodeString(squidChallenge)
	f.Add(raw)
	f.Add(specChallenge)
	const pass = "Fuzz-Passw0rd"
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := authenticate(b, `D\u`, pass)
		if err != nil {
			if strings.Contains(err.Error(), pass) {
				t.Fatalf("the error shows the password: %v", err)
			}
			return
		}
		if len(msg) < 64 || string(msg[:8]) != "NTLMSSP\x00" {
			t.Fatalf("answer %x", msg)
		}
	})
}

// ntlmProxy is an HTTP CONNECT proxy that checks NTLMv2 for real: it sends
// a CHALLENGE bound to the connection and verifies the NTProofStr of the
// AUTHENTICATE message with the account's key, as a domain controller
// would. Its tunnels echo.
type ntlmProxy struct {
	key  []byte // NTOWFv2 of the one account
	user string

	mu    sync.Mutex
	conns int
	reqs  int
}

func (p *ntlmProxy) serve(t *testing.T) string { return serveProxy(t, p.handle) }

// serveProxy runs handle for each connection to a listener on loopback
// until the test ends, and returns the listener's address.
func serveProxy(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return ln.Addr().String()
}

func (p *ntlmProxy) handle(c net.Conn) {
	p.mu.Lock()
	p.conns++
	serverChallenge := []byte(fmt.Sprintf("conn%04d", p.conns))
	p.mu.Unlock()
	br := bufio.NewReader(c)
	refuse := func() {
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n")
	}
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.reqs++
		p.mu.Unlock()
		msg, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(req.Header.Get("Proxy-Authorization"), "NTLM "))
		switch {
		case len(msg) > 8 && msg[8] == 1:
			ch := bytes.Clone(specChallenge)
			copy(ch[24:32], serverChallenge)
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM "+
				base64.StdEncoding.EncodeToString(ch)+"\r\nContent-Length: 0\r\n\r\n")
		case len(msg) > 64 && msg[8] == 3:
			nt := field(msg, 20)
			if len(nt) < 48 || !bytes.Equal(field(msg, 36), utf16le(p.user)) ||
				!bytes.Equal(nt[:16], hmacMD5(p.key, serverChallenge, nt[16:])) {
				refuse()
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			io.Copy(c, br)
			return
		default:
			refuse()
		}
	}
}

// TestThroughProxy dials through a proxy that checks the password: the
// right one opens the tunnel in three requests on one connection, a wrong
// one fails with ErrProxyAuthRequired, and no text of the dial shows the
// password, its NTLM hash or an NTLM message.
func TestThroughProxy(t *testing.T) {
	const pass = "C0rrect-H0rse"
	key := ntowfv2(pass, "jane", "CORP")
	for _, tc := range []struct {
		name string
		pass string
	}{{"right password", pass}, {"wrong password", "Wr0ng-" + pass}} {
		t.Run(tc.name, func(t *testing.T) {
			p := &ntlmProxy{key: key, user: "jane"}
			addr := p.serve(t)
			var logs bytes.Buffer
			rec := &recorder{inner: New()}
			d, err := wsdial.New(wsdial.WithProxy("http://CORP%5Cjane:"+url.PathEscape(tc.pass)+"@"+addr),
				wsdial.WithProxyAuthenticator(rec),
				wsdial.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if tc.pass == pass {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				echoPing(t, c)
				// NEGOTIATE with the first request, CHALLENGE in the 407,
				// AUTHENTICATE with the second: one connection.
				p.mu.Lock()
				defer p.mu.Unlock()
				if p.conns != 1 || p.reqs != 2 {
					t.Errorf("proxy saw %d connections and %d requests, want 1 and 2", p.conns, p.reqs)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("the tunnel opened with a wrong password")
			}
			if !errors.Is(err, wsdial.ErrProxyAuthRequired) || !strings.Contains(err.Error(), `refused the credentials of CORP\jane`) {
				t.Errorf("err = %v", err)
			}
			secrets := []string{tc.pass, hex.EncodeToString(ntowfv2(tc.pass, "jane", "CORP")), base64.StdEncoding.EncodeToString(ntowfv2(tc.pass, "jane", "CORP"))}
			for _, v := range rec.sent {
				secrets = append(secrets, strings.TrimPrefix(v, "NTLM "))
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()} {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("%q shows the secret %q", text, s)
					}
				}
			}
		})
	}
}

// recorder passes through to an authenticator and keeps what it sends.
type recorder struct {
	inner wsdial.ProxyAuthenticator
	sent  []string
}

func (r *recorder) Start(ctx context.Context, proxy *url.URL) (wsdial.ProxyAuthSession, error) {
	s, err := r.inner.Start(ctx, proxy)
	if err != nil {
		return nil, err
	}
	return recordingSession{r, s}, nil
}

type recordingSession struct {
	r *recorder
	wsdial.ProxyAuthSession
}

func (s recordingSession) Next(ctx context.Context, ch *http.Response) (string, error) {
	v, err := s.ProxyAuthSession.Next(ctx, ch)
	if v != "" {
		s.r.sent = append(s.r.sent, v)
	}
	return v, err
}

// closingProxy offers NTLM and Basic and closes the connection after every
// 407, the CHALLENGE's too, so that no NTLM exchange can finish; it
// accepts Basic with pass. Its tunnels echo.
type closingProxy struct{ pass string }

func (p *closingProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	authz := req.Header.Get("Proxy-Authorization")
	msg, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "NTLM "))
	switch {
	case authz == "Basic "+base64.StdEncoding.EncodeToString([]byte(`CORP\jane:`+p.pass)):
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		io.Copy(c, br)
	case len(msg) > 8 && msg[8] == 1:
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\nProxy-Authenticate: NTLM "+
			base64.StdEncoding.EncodeToString(specChallenge)+"\r\nContent-Length: 0\r\n\r\n")
	default:
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n"+
			"Proxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
	}
}

// TestProxyClosesAfterChallenge dials a proxy that closes the connection
// its CHALLENGE is bound to. Starting over cannot help there, as the next
// connection ends the same way: the NTLM session must give up, saying why,
// rather than send NEGOTIATE messages until the Dialer's bound, and beside
// Basic, the Dialer must then fall back to it.
func TestProxyClosesAfterChallenge(t *testing.T) {
	const pass = "C0rrect-H0rse"
	proxy := func(addr string) string { return "http://CORP%5Cjane:" + pass + "@" + addr }
	t.Run("alone", func(t *testing.T) {
		addr := serveProxy(t, (&closingProxy{pass: pass}).handle)
		d, err := wsdial.New(wsdial.WithProxy(proxy(addr)), wsdial.WithProxyAuthenticator(New()))
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
		if err == nil {
			c.Close()
			t.Fatal("the tunnel opened")
		}
		if !errors.Is(err, wsdial.ErrProxyAuthRequired) || !strings.Contains(err.Error(), "closed the connection") {
			t.Errorf("err = %v, want ErrProxyAuthRequired saying the proxy closed the connection", err)
		}
		if strings.Contains(err.Error(), pass) {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("beside Basic", func(t *testing.T) {
		addr := serveProxy(t, (&closingProxy{pass: pass}).handle)
		d, err := wsdial.New(wsdial.WithProxy(proxy(addr)), wsdial.WithProxyAuthenticator(New(), wsdial.BasicProxyAuth()))
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
		if err != nil {
			t.Fatalf("Basic, which the proxy accepts, was not reached: %v", err)
		}
		defer c.Close()
		echoPing(t, c)
	})
}

// echoPing checks that c, a tunnel to an echo, carries bytes both ways.
func echoPing(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "ping" {
		t.Fatalf("echo: %q %v", b, err)
	}
}
