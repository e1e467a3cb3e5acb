package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
)

func TestTraceHooksInOrder(t *testing.T) {
	cert, pool := testCert(t)
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
	c, err := New(WithoutProxy(), WithTLSConfig(&tls.Config{RootCAs: pool})).DialWebSocket(ctx, "wss://"+addr+"/")
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
	cert, pool := testCert(t)
	addr, _ := serveTLSUpgrade(t, cert, []string{"http/1.1"})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(WithoutProxy(), WithLogger(logger), WithTLSConfig(&tls.Config{RootCAs: pool})).DialWebSocket(context.Background(), "wss://"+addr+"/")
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
	if c, err := New(WithoutProxy(), WithLogger(quiet), WithTLSConfig(&tls.Config{RootCAs: pool})).DialWebSocket(context.Background(), "wss://"+addr+"/"); err == nil {
		c.Close()
	}
	if buf.Len() != 0 {
		t.Errorf("an info-level logger heard: %s", buf.String())
	}
}
