package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTraceHooksInOrder(t *testing.T) {
	cert, pool := newCert(t, "localhost", "127.0.0.1", "::1")
	addr, _ := serveTLSUpgrade(t, cert, []string{"http/1.1"})
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		ConnectStart:         func(network, a string) { note("ConnectStart " + a) },
		ConnectDone:          func(network, a string, err error) { note("ConnectDone " + a) },
		TLSHandshakeStart:    func() { note("TLSHandshakeStart") },
		TLSHandshakeDone:     func(st tls.ConnectionState, err error) { note("TLSHandshakeDone " + st.NegotiatedProtocol) },
		WroteHeaders:         func() { note("WroteHeaders") },
		GotFirstResponseByte: func() { note("GotFirstResponseByte") },
	})
	c, err := mustNew(t, WithoutProxy(), WithTLSConfig(&tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})).DialWebSocket(ctx, "wss://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := []string{"ConnectStart " + addr, "ConnectDone " + addr, "TLSHandshakeStart", "TLSHandshakeDone http/1.1", "WroteHeaders", "GotFirstResponseByte"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hooks fired as\n%q\nwant\n%q", got, want)
	}
}

func TestLoggerStages(t *testing.T) {
	cert, pool := newCert(t, "localhost", "127.0.0.1", "::1")
	addr, _ := serveTLSUpgrade(t, cert, []string{"http/1.1"})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := mustNew(t, WithoutProxy(), WithLogger(logger), WithTLSConfig(&tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})).DialWebSocket(context.Background(), "wss://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, want := range []string{"tcp connect", "tcp connected", "tls done", `version="TLS 1.`, "alpn=http/1.1", "upgrade request sent", "upgraded", "status=101"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
	// At info level the logger hears nothing.
	buf.Reset()
	quiet := slog.New(slog.NewTextHandler(&buf, nil))
	if c, err := mustNew(t, WithoutProxy(), WithLogger(quiet), WithTLSConfig(&tls.Config{RootCAs: pool})).DialWebSocket(context.Background(), "wss://"+addr+"/"); err == nil {
		c.Close()
	}
	if buf.Len() != 0 {
		t.Errorf("an info-level logger heard: %s", buf.String())
	}
}

// TestLoggerProxyStages dials through an authenticating proxy and checks
// that the log names the proxy, why it was chosen and what it answered, and
// never the password.
func TestLoggerProxyStages(t *testing.T) {
	origin := serveUpgrade(t, "")
	px := &connectProxy{user: "alice", pass: "s3cret-pw"}
	proxyAddr := px.start(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := mustNew(t, WithProxy("http://alice:s3cret-pw@"+proxyAddr), WithLogger(logger))
	c, err := d.DialWebSocket(context.Background(), "ws://"+origin+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	log := buf.String()
	for _, want := range []string{"msg=\"wsdial: proxy\"", "why=WithProxy", `msg="wsdial: tcp connected" addr=` + proxyAddr, "msg=\"wsdial: proxy replied\"", `reply="HTTP/1.1 200 Connection established"`, "upgraded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cret-pw") {
		t.Errorf("log shows the password:\n%s", log)
	}
}

func TestLoggerEnvironmentReason(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	t.Setenv("ALL_PROXY", "socks5h://127.0.0.1:1")
	t.Setenv("all_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := mustNew(t, WithLogger(logger), WithHandshakeTimeout(time.Second))
	// The SOCKS proxy at port 1 refuses; the route is logged before that.
	d.DialWebSocket(context.Background(), "wss://ws.example.invalid/")
	if want := `why="environment: ALL_PROXY"`; !strings.Contains(buf.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, buf.String())
	}
	buf.Reset()
	// Loopback targets never go through an environment proxy.
	d.DialWebSocket(context.Background(), "wss://127.0.0.1:1/")
	if want := `msg="wsdial: direct"`; !strings.Contains(buf.String(), want) || !strings.Contains(buf.String(), `why="environment: a loopback target excludes it from ALL_PROXY"`) {
		t.Errorf("log lacks the direct route and its reason:\n%s", buf.String())
	}
	t.Setenv("ALL_PROXY", "")
	buf.Reset()
	mustNew(t, WithLogger(logger), WithHandshakeTimeout(time.Second)).DialWebSocket(context.Background(), "ws://127.0.0.1:1/")
	if want := `why="environment: no proxy variable for http"`; !strings.Contains(buf.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, buf.String())
	}
}

// TestTraceInterimResponses checks that the interim responses read past
// before the 101 reach the httptrace hooks, and that an error from
// Got1xxResponse ends the dial, as httptrace documents.
func TestTraceInterimResponses(t *testing.T) {
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+upgradeResponse(req, ""))
		answerClose(c, br)
	})
	var got []string
	continued := false
	stop := errors.New("enough")
	for _, abort := range []bool{false, true} {
		got = got[:0]
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got100Continue: func() { continued = true },
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				got = append(got, fmt.Sprintf("%d %s", code, h.Get("Link")))
				if abort && code == 103 {
					return stop
				}
				return nil
			},
		})
		c, err := mustNew(t, WithoutProxy()).DialWebSocket(ctx, "ws://"+addr+"/")
		if abort {
			if !errors.Is(err, stop) {
				t.Errorf("err = %v, want the hook's error", err)
			}
			checkClass(t, err, ErrHandshake)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if want := "100 |103 </a.css>; rel=preload"; strings.Join(got, "|") != want || !continued {
			t.Errorf("hooks saw %q (Got100Continue %v), want %q", got, continued, want)
		}
	}
}

// TestLoggerSaysWhichRuleExcludes checks that the log of a direct dial
// names the one rule that kept the environment's proxy out: a loopback
// target, or NO_PROXY, never the two as alternatives.
func TestLoggerSaysWhichRuleExcludes(t *testing.T) {
	setEnv(t, map[string]string{"HTTP_PROXY": "http://127.0.0.1:1", "NO_PROXY": "example.test"})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := mustNew(t, WithLogger(logger), WithNetDialer(noDNS()), WithHandshakeTimeout(time.Second))
	closed := closedAddr(t)
	_, port, _ := net.SplitHostPort(closed)
	for _, tt := range []struct {
		url, want, not string
	}{
		{"ws://" + closed + "/", "a loopback target", "NO_PROXY"},
		{"ws://localhost:" + port + "/", "a loopback target", "NO_PROXY"},
		{"ws://[::1]:" + port + "/", "a loopback target", "NO_PROXY"},
		// noDNS fails the lookup: nothing leaves the machine.
		{"ws://chat.example.test/", "NO_PROXY", "loopback"},
	} {
		buf.Reset()
		d.DialWebSocket(context.Background(), tt.url)
		var why string
		for line := range strings.Lines(buf.String()) {
			if strings.Contains(line, `msg="wsdial: direct"`) {
				_, why, _ = strings.Cut(line, "why=")
			}
		}
		if !strings.Contains(why, tt.want) || strings.Contains(why, tt.not) || !strings.Contains(why, "HTTP_PROXY") {
			t.Errorf("%s: the direct route's reason is %q; want it to name %q and HTTP_PROXY, and not %q", tt.url, why, tt.want, tt.not)
		}
	}
}
