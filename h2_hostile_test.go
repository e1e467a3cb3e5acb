package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// respondBlock sends a header block as HEADERS and as many CONTINUATION
// frames as its length needs.
func (s *h2Script) respondBlock(stream uint32, end bool, fields ...hpack.HeaderField) error {
	s.hbuf.Reset()
	for _, f := range fields {
		s.enc.WriteField(f)
	}
	block := s.hbuf.Bytes()
	frag := block[:min(len(block), 16<<10)]
	block = block[len(frag):]
	err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: frag, EndHeaders: len(block) == 0, EndStream: end})
	for err == nil && len(block) > 0 {
		frag = block[:min(len(block), 16<<10)]
		block = block[len(frag):]
		err = s.fr.WriteContinuation(stream, len(block) == 0, frag)
	}
	return err
}

var xconnectOn = http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1}

// TestH2HostileServers has servers break RFC 9113 in one way each, before or
// after the response: the dial, or the reads that follow, must end with a
// clear error, never hang or panic.
func TestH2HostileServers(t *testing.T) {
	big := strings.Repeat("v", 20<<10)
	for _, tc := range []struct {
		name string
		// before runs before any request; it sends the server's SETTINGS.
		before func(s *h2Script)
		// answer answers the request on stream id.
		answer func(s *h2Script, id uint32)
		// want is in the dial's error, or else in the first read's; or, with
		// write, in the first write's, for a stream the client does not read.
		want  string
		write bool
	}{
		{name: "first frame not SETTINGS", before: func(s *h2Script) { s.fr.WritePing(false, [8]byte{}) },
			want: "first frame is not SETTINGS"},
		{name: "window too large", before: func(s *h2Script) {
			s.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, want: "FLOW_CONTROL_ERROR"},
		{name: "ENABLE_CONNECT_PROTOCOL of 2", before: func(s *h2Script) {
			s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 2})
		}, want: "invalid ENABLE_CONNECT_PROTOCOL"},
		{name: "ENABLE_CONNECT_PROTOCOL withdrawn", before: func(s *h2Script) {
			s.settings(xconnectOn)
			s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 0})
		}, want: "went from 1 to 0"},
		{name: "no :status", answer: func(s *h2Script, id uint32) {
			s.respondBlock(id, false, hpack.HeaderField{Name: "x", Value: "y"})
		}, want: "pseudo-headers other than a single :status"},
		{name: "request pseudo-header", answer: func(s *h2Script, id uint32) {
			s.respondBlock(id, false, hpack.HeaderField{Name: ":status", Value: "200"}, hpack.HeaderField{Name: ":path", Value: "/"})
		}, want: "reset: PROTOCOL_ERROR"},
		{name: "malformed :status", answer: func(s *h2Script, id uint32) { s.respond(id, "2x0", false) },
			want: `malformed :status "2x0"`},
		{name: "101 in HTTP/2", answer: func(s *h2Script, id uint32) { s.respond(id, "101", false) },
			want: "malformed interim response 101"},
		{name: "interim response, then 200", answer: func(s *h2Script, id uint32) {
			s.respond(id, "103", false, "link", "</a>")
			s.respond(id, "200", false)
			s.fr.WriteData(id, true, frame(fin|opTxt, []byte("fine")))
		}, want: "ended without a close frame"},
		{name: "header block too large", answer: func(s *h2Script, id uint32) {
			f := []hpack.HeaderField{{Name: ":status", Value: "200"}}
			for i := range 4 {
				f = append(f, hpack.HeaderField{Name: "x-big" + string(rune('a'+i)), Value: big})
			}
			s.respondBlock(id, false, f...)
		}, want: "response head exceeds"},
		{name: "too many header fields", answer: func(s *h2Script, id uint32) {
			f := []hpack.HeaderField{{Name: ":status", Value: "200"}}
			for range maxHeaderFields {
				f = append(f, hpack.HeaderField{Name: "x", Value: "y"})
			}
			s.respondBlock(id, false, f...)
		}, want: "more than 256 header fields"},
		{name: "DATA before HEADERS", answer: func(s *h2Script, id uint32) { s.fr.WriteData(id, false, []byte("early")) },
			want: "DATA before the response headers"},
		{name: "a 200 that ends the stream", answer: func(s *h2Script, id uint32) { s.respond(id, "200", true) },
			want: "ended without a close frame"},
		{name: "PUSH_PROMISE", answer: func(s *h2Script, id uint32) {
			s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: 2, BlockFragment: []byte{0x88}, EndHeaders: true})
		}, want: "PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0"},
		{name: "HEADERS on an even stream", answer: func(s *h2Script, id uint32) { s.respond(2, "200", false) },
			want: "stream 2, which the client never opened"},
		{name: "HEADERS on an idle stream", answer: func(s *h2Script, id uint32) { s.respond(id+2, "200", false) },
			want: "which the client never opened"},
		{name: "frame too large", answer: func(s *h2Script, id uint32) {
			s.c.Write([]byte{0x10, 0, 0, byte(http2.FrameData), 0, 0, 0, 0, byte(id)})
		}, want: "FRAME_SIZE_ERROR"},
		{name: "DATA beyond the stream's window", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			// One binary frame of 2 MiB, more than the window lets through.
			hdr := []byte{fin | opBin, 127, 0, 0, 0, 0, 0, 0x20, 0, 0}
			s.fr.WriteData(id, false, hdr)
			chunk := make([]byte, 16<<10)
			for range (h2StreamWindow / len(chunk)) + 1 {
				if s.fr.WriteData(id, false, chunk) != nil {
					return
				}
			}
		}, want: "the server sent DATA beyond the stream's window", write: true},
		{name: "connection window overflow", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.fr.WriteWindowUpdate(0, 1<<31-1)
		}, want: "WINDOW_UPDATE overflows the connection's window"},
		{name: "trailers that do not end the stream", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.respond(id, "200", false)
		}, want: "reset: PROTOCOL_ERROR"},
		{name: "RST_STREAM on an idle stream", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.fr.WriteRSTStream(id+2, http2.ErrCodeCancel)
		}, want: "which the client never opened"},
		{name: "garbage", before: func(s *h2Script) { s.c.Write(bytes.Repeat([]byte{0xff}, 64)) },
			want: "HTTP/2"},
		{name: "PING flood, not reading", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			for s.fr.WritePing(false, [8]byte{}) == nil {
			}
		}, want: "does not read the frames it asks for"},
		{name: "SETTINGS overflowing an open stream's window", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.fr.WriteWindowUpdate(id, h2MaxWindow-h2DefaultWindow)
			s.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2DefaultWindow + 1})
		}, want: "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window"},
		{name: "CONTINUATION flood", answer: func(s *h2Script, id uint32) {
			s.hbuf.Reset()
			s.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: s.hbuf.Bytes()})
			for err == nil {
				s.hbuf.Reset()
				s.enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: big, Sensitive: true})
				err = s.fr.WriteContinuation(id, false, s.hbuf.Bytes())
			}
		}, want: "PROTOCOL_ERROR"},
		// RFC 9113 §6.5.2: a client MUST treat SETTINGS_ENABLE_PUSH = 1 as a
		// connection error of type PROTOCOL_ERROR.
		{name: "ENABLE_PUSH of 1", before: func(s *h2Script) {
			s.settings(xconnectOn, http2.Setting{ID: http2.SettingEnablePush, Val: 1})
		}, answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.fr.WriteData(id, true, frame(fin|opTxt, []byte("fine")))
		}, want: "PROTOCOL_ERROR"},
		// RFC 9113 §6.2: padding as long as the payload, or longer, is a
		// connection error; x/net's Framer reports it as a stream error and
		// leaves the block undecoded, so HPACK's tables would part ways.
		{name: "HEADERS padded beyond its payload", answer: func(s *h2Script, id uint32) {
			s.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndHeaders, id, []byte{200, 0x88})
		}, want: "protocol error (PROTOCOL_ERROR)"},
		// RFC 9113 §8.2.2: a message with a connection-specific field is
		// malformed.
		{name: "connection-specific field", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false, "connection", "close")
			s.fr.WriteData(id, true, frame(fin|opTxt, []byte("fine")))
		}, want: `connection-specific field "connection"`},
		{name: "transfer-encoding", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false, "transfer-encoding", "chunked")
			s.fr.WriteData(id, true, frame(fin|opTxt, []byte("fine")))
		}, want: `connection-specific field "transfer-encoding"`},
		// RFC 9113 §8.5: on a CONNECT stream that has its 2xx, only DATA and
		// stream management frames may come; a HEADERS is a stream error,
		// not the clean end of the tunnel.
		{name: "trailers on a connected stream", answer: func(s *h2Script, id uint32) {
			s.respond(id, "200", false)
			s.fr.WriteData(id, false, frame(fin|opTxt, []byte("fine")))
			s.respond(id, "200", true)
		}, want: "reset: PROTOCOL_ERROR"},
		{name: "unknown frames are ignored", answer: func(s *h2Script, id uint32) {
			s.fr.WriteRawFrame(0xfa, 0, id, []byte("?"))
			s.respond(id, "200", false)
			s.fr.WriteRawFrame(0xfb, 0, 0, nil)
			s.fr.WriteData(id, true, frame(fin|opTxt, []byte("fine")))
			s.fr.WriteGoAway(id, http2.ErrCodeNo, bytes.Repeat([]byte("\x00\xff"), 1000))
		}, want: "ended without a close frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			addr, pool := serveH2Script(t, func(s *h2Script) {
				if tc.before != nil {
					tc.before(s)
				} else {
					s.settings(xconnectOn)
				}
				h, err := s.request()
				if err != nil {
					return
				}
				// A case that fails the connection before any request may
				// still see one the client sent before it read the failure.
				if tc.answer != nil {
					tc.answer(s, h.StreamID)
				}
				io.Copy(io.Discard, s.c)
			})
			d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
			defer d.CloseIdleConnections()
			c, err := d.DialWebSocket(testCtx(t), "wss://"+addr+"/")
			switch {
			case err == nil && tc.write:
				defer c.closeStream()
				for err == nil {
					err = c.WriteMessage(TextMessage, []byte("unread"))
				}
			case err == nil:
				defer c.closeStream()
				for err == nil {
					_, _, err = c.ReadMessage()
				}
			default:
				checkClass(t, err, ErrHandshake)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestH2RefusalBodyStalls refuses the WebSocket with a 403 whose body never
// comes, the stream left open, on a dial with no deadline at all: the
// refusal still comes back, after refusalBodyWait, as over HTTP/1.1.
func TestH2RefusalBodyStalls(t *testing.T) {
	checkGoroutines(t)
	hold := make(chan struct{})
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(xconnectOn)
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "403", false, "content-length", "100")
		<-hold
	})
	defer close(hold)
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}), WithHandshakeTimeout(0))
	defer d.CloseIdleConnections()
	done := make(chan error, 1)
	go func() {
		_, err := d.DialWebSocket(context.Background(), "wss://"+addr+"/")
		done <- err
	}()
	select {
	case err := <-done:
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 403 {
			t.Errorf("error %v, want the 403", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the refusal waits for a body that never comes")
	}
}

// TestH2RefusalWithTrailers refuses the WebSocket with a 403 whose body ends
// with trailers: the refusal is an HTTP response like any other, whose
// trailers are no fault (RFC 9113 §8.1; §8.5 forbids them only on a stream
// that CONNECT has connected), so the client has its status and body and
// resets the stream with CANCEL, as after any refusal, not PROTOCOL_ERROR.
func TestH2RefusalWithTrailers(t *testing.T) {
	checkGoroutines(t)
	reset := make(chan http2.ErrCode, 1)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(xconnectOn)
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "403", false)
		s.fr.WriteData(h.StreamID, false, []byte("no"))
		s.respondBlock(h.StreamID, true, hpack.HeaderField{Name: "x-why", Value: "policy"})
		f, err := s.waitFor(h.StreamID, isRST)
		if err == nil {
			reset <- f.(*http2.RSTStreamFrame).ErrCode
		}
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	_, err := d.DialWebSocket(testCtx(t), "wss://"+addr+"/")
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("error %v, want the 403", err)
	}
	if body, _ := io.ReadAll(he.Response.Body); string(body) != "no" {
		t.Errorf("body %q, want %q", body, "no")
	}
	if code := <-reset; code != http2.ErrCodeCancel {
		t.Errorf("the client reset the refused stream with %v, want CANCEL", code)
	}
}
