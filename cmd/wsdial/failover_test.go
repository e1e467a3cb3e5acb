package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// TestVerboseFailover runs a dial through a proxy list with -v's stage log:
// it shows the list, each attempt, why the dial moved on from a proxy that
// is down, and the entry that got through, in that order, without the
// password.
func TestVerboseFailover(t *testing.T) {
	srv := echoServer(t)
	echo := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")
	px := wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	t.Cleanup(px.Close)
	proxy := strings.TrimPrefix(px.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	list := []*url.URL{
		{Scheme: "http", Host: down},
		{Scheme: "http", User: url.UserPassword(demoUser, demoPassword), Host: proxy},
	}
	var stderr bytes.Buffer
	d, err := wsdial.New(
		wsdial.WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) { return list, nil }),
		wsdial.WithLogger(slog.New(&stageLog{w: &stderr, start: time.Now()})),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "ws://"+echo+"/echo")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	out := stderr.String()
	t.Logf("-v prints:\n%s", out)
	at := 0
	for _, want := range []string{
		"] proxy list target=" + echo + " order=http://" + down + ", http://demo:xxxxx@" + proxy,
		"] proxy proxy=http://" + down + " target=" + echo + " why=WithProxyList, entry 1 of 2 share=",
		"] tcp connect failed addr=" + down,
		"] proxy list: next entry entry=http://" + down + " why=the proxy could not be reached err=",
		"connection refused marked_bad_for=5m0s\n",
		"] proxy proxy=http://demo:xxxxx@" + proxy + " target=" + echo + " why=WithProxyList, entry 2 of 2 share=the rest of the dial\n",
		"] proxy replied reply=HTTP/1.1 200",
		"] upgraded status=101",
	} {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("-v output lacks %q after byte %d:\n%s", want, at, out)
		}
		at += i + len(want)
	}
	if strings.Contains(out, demoPassword) {
		t.Errorf("-v output shows the password:\n%s", out)
	}
}
