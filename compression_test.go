package wsdial

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// headWith parses a 101 response head that carries the given header lines.
func headWith(t *testing.T, lines string) responseHead {
	t.Helper()
	var fields [16]headerField
	h, err := parseHead("HTTP/1.1 101 Switching Protocols\r\n"+lines+"\r\n", fields[:])
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDeflateNegotiation(t *testing.T) {
	on, err := newCompression(Compression{})
	if err != nil {
		t.Fatal(err)
	}
	notOffered := *on
	notOffered.offerClientMaxWindow = false
	def := deflateParams{on: true, serverBits: 15, clientBits: 15}
	with := func(f func(*deflateParams)) deflateParams {
		p := def
		f(&p)
		return p
	}
	ext := func(v string) string { return "Sec-WebSocket-Extensions: " + v + "\r\n" }

	cases := []struct {
		name  string
		offer *compression
		head  string
		want  deflateParams // ignored when bad
		bad   bool
	}{
		// Compression off: any extension is refused, none is fine.
		{name: "off, none", head: ""},
		{name: "off, permessage-deflate", head: ext("permessage-deflate"), bad: true},
		{name: "off, other", head: ext("x-webkit-deflate-frame"), bad: true},

		// Accepted.
		{name: "declined", offer: on, head: ""},
		{name: "plain", offer: on, head: ext("permessage-deflate"), want: def},
		{name: "server_no_context_takeover", offer: on, head: ext("permessage-deflate; server_no_context_takeover"),
			want: with(func(p *deflateParams) { p.serverNoContext = true })},
		{name: "client_no_context_takeover not offered", offer: on, head: ext("permessage-deflate; client_no_context_takeover"),
			want: with(func(p *deflateParams) { p.clientNoContext = true })},
		{name: "server_max_window_bits=8", offer: on, head: ext("permessage-deflate; server_max_window_bits=8"),
			want: with(func(p *deflateParams) { p.serverBits = 8 })},
		{name: "server_max_window_bits=15", offer: on, head: ext("permessage-deflate; server_max_window_bits=15"), want: def},
		{name: "client_max_window_bits=9", offer: on, head: ext("permessage-deflate; client_max_window_bits=9"),
			want: with(func(p *deflateParams) { p.clientBits = 9 })},
		{name: "all four", offer: on,
			head: ext("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"),
			want: deflateParams{on: true, serverNoContext: true, clientNoContext: true, serverBits: 10, clientBits: 12}},
		{name: "quoted value", offer: on, head: ext(`permessage-deflate; server_max_window_bits="1\2"`),
			want: with(func(p *deflateParams) { p.serverBits = 12 })},
		{name: "spaces", offer: on, head: ext("permessage-deflate ;server_max_window_bits = 11 ,"),
			want: with(func(p *deflateParams) { p.serverBits = 11 })},
		{name: "empty list elements", offer: on, head: ext(", ,permessage-deflate,"), want: def},
		{name: "two header lines, one extension", offer: on, head: ext("") + ext("permessage-deflate"), want: def},

		// Refused: what the client did not offer or cannot honour.
		{name: "other extension", offer: on, head: ext("x-webkit-deflate-frame"), bad: true},
		{name: "other extension beside", offer: on, head: ext("permessage-deflate, x-foo"), bad: true},
		{name: "name in capitals", offer: on, head: ext("Permessage-Deflate"), bad: true},
		{name: "twice in one line", offer: on, head: ext("permessage-deflate, permessage-deflate"), bad: true},
		{name: "twice in two lines", offer: on, head: ext("permessage-deflate") + ext("permessage-deflate"), bad: true},
		{name: "unknown parameter", offer: on, head: ext("permessage-deflate; mem_level=5"), bad: true},
		{name: "client_max_window_bits not offered", offer: &notOffered, head: ext("permessage-deflate; client_max_window_bits=10"), bad: true},
		{name: "client_max_window_bits without value", offer: on, head: ext("permessage-deflate; client_max_window_bits"), bad: true},
		{name: "server_max_window_bits without value", offer: on, head: ext("permessage-deflate; server_max_window_bits"), bad: true},

		// Refused: duplicated parameters.
		{name: "server_no_context_takeover twice", offer: on, head: ext("permessage-deflate; server_no_context_takeover; server_no_context_takeover"), bad: true},
		{name: "client_no_context_takeover twice", offer: on, head: ext("permessage-deflate; client_no_context_takeover; client_no_context_takeover"), bad: true},
		{name: "server_max_window_bits twice", offer: on, head: ext("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"), bad: true},
		{name: "client_max_window_bits twice", offer: on, head: ext("permessage-deflate; client_max_window_bits=10; client_max_window_bits=11"), bad: true},

		// Refused: bad values.
		{name: "window 7", offer: on, head: ext("permessage-deflate; server_max_window_bits=7"), bad: true},
		{name: "window 16", offer: on, head: ext("permessage-deflate; server_max_window_bits=16"), bad: true},
		{name: "window 0", offer: on, head: ext("permessage-deflate; client_max_window_bits=0"), bad: true},
		{name: "window leading zero", offer: on, head: ext("permessage-deflate; server_max_window_bits=09"), bad: true},
		{name: "window sign", offer: on, head: ext("permessage-deflate; server_max_window_bits=+9"), bad: true},
		{name: "window words", offer: on, head: ext("permessage-deflate; client_max_window_bits=ten"), bad: true},
		{name: "window empty quotes", offer: on, head: ext(`permessage-deflate; server_max_window_bits=""`), bad: true},
		{name: "window 3 digits", offer: on, head: ext("permessage-deflate; server_max_window_bits=100"), bad: true},
		{name: "value on server_no_context_takeover", offer: on, head: ext("permessage-deflate; server_no_context_takeover=1"), bad: true},
		{name: "value on client_no_context_takeover", offer: on, head: ext(`permessage-deflate; client_no_context_takeover=""`), bad: true},

		// Refused: malformed.
		{name: "trailing semicolon", offer: on, head: ext("permessage-deflate;"), bad: true},
		{name: "missing value", offer: on, head: ext("permessage-deflate; server_max_window_bits="), bad: true},
		{name: "unterminated quote", offer: on, head: ext(`permessage-deflate; server_max_window_bits="10`), bad: true},
		{name: "junk after name", offer: on, head: ext("permessage-deflate x"), bad: true},
		{name: "no name", offer: on, head: ext("; server_no_context_takeover"), bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := headWith(t, tc.head)
			got, err := negotiateDeflate(&h, tc.offer)
			switch {
			case tc.bad:
				if !errors.Is(err, ErrBadExtension) {
					t.Fatalf("got %+v, %v; want ErrBadExtension", got, err)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			case got != tc.want:
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDeflateHandshake runs the negotiation end to end: the offer on the
// wire for each setting, and a refusal as a *HandshakeError.
func TestDeflateHandshake(t *testing.T) {
	offers := []struct {
		c    Compression
		want string
	}{
		{Compression{}, "permessage-deflate; client_max_window_bits; client_no_context_takeover"},
		{Compression{ClientContextTakeover: true}, "permessage-deflate; client_max_window_bits"},
		{Compression{ServerNoContextTakeover: true}, "permessage-deflate; client_max_window_bits; client_no_context_takeover; server_no_context_takeover"},
		{Compression{ClientContextTakeover: true, ServerNoContextTakeover: true},
			"permessage-deflate; client_max_window_bits; server_no_context_takeover"},
	}
	for _, o := range offers {
		conn, p := newPairWith(t, "Sec-WebSocket-Extensions: permessage-deflate\r\n", WithCompression(o.c))
		if got := p.req.Header.Values("Sec-Websocket-Extensions"); len(got) != 1 || got[0] != o.want {
			t.Errorf("%+v offered %q, want %q", o.c, got, o.want)
		}
		if conn.wr.deflate == nil || conn.rd.inflate == nil {
			t.Errorf("%+v: compression not in use", o.c)
		}
	}

	// Without the option, no offer and no compression.
	conn, p := newPair(t)
	if got := p.req.Header.Get("Sec-Websocket-Extensions"); got != "" {
		t.Errorf("offered %q without WithCompression", got)
	}
	if conn.wr.deflate != nil || conn.rd.inflate != nil || conn.rd.rsvAllowed != 0 {
		t.Error("compression in use without WithCompression")
	}

	// A server that declines leaves the connection uncompressed.
	conn, _ = newPair(t, WithCompression(Compression{}))
	if conn.wr.deflate != nil || conn.rd.inflate != nil {
		t.Error("compression in use though the server declined")
	}

	// A bad answer fails the dial with a *HandshakeError.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if p, err := acceptPeerWith(ln, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20\r\n", nil); err == nil {
			p.c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = mustNew(t, WithoutProxy(), WithCompression(Compression{})).DialWebSocket(ctx, "ws://"+ln.Addr().String()+"/")
	<-done
	var he *HandshakeError
	if !errors.As(err, &he) || !errors.Is(err, ErrBadExtension) || he.StatusCode != 101 {
		t.Fatalf("got %v, want a *HandshakeError with ErrBadExtension", err)
	}
	if !strings.Contains(err.Error(), "server_max_window_bits") {
		t.Errorf("error %q does not name the parameter", err)
	}
}

func TestCompressionOption(t *testing.T) {
	for _, level := range []int{-3, 10} {
		cfg := newConfig([]Option{WithCompression(Compression{Level: level})})
		if cfg.err == nil {
			t.Errorf("level %d accepted", level)
		}
	}
	cases := []struct {
		c                Compression
		level, threshold int
	}{
		{Compression{}, 1, 128},
		{Compression{Level: -1, Threshold: -5}, 6, 0},
		{Compression{Level: -2, Threshold: 1000}, -2, 1000},
		{Compression{Level: 9}, 9, 128},
	}
	for _, tc := range cases {
		cfg := newConfig([]Option{WithCompression(tc.c)})
		if cfg.err != nil || cfg.compression.level != tc.level || cfg.compression.threshold != tc.threshold {
			t.Errorf("%+v: got %+v, %v; want level %d, threshold %d", tc.c, cfg.compression, cfg.err, tc.level, tc.threshold)
		}
	}
}

// fuzzOffer is the offer FuzzResponseHead checks responses against.
var fuzzOffer, _ = newCompression(Compression{})
