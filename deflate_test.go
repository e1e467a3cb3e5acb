package wsdial

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// acceptDeflate is the 101 header with which the test server accepts
// permessage-deflate, with params after the name.
func acceptDeflate(params string) string {
	return "Sec-WebSocket-Extensions: permessage-deflate" + params + "\r\n"
}

// newDeflatePair is newPair with compression offered and accepted with params.
func newDeflatePair(tb testing.TB, params string, c Compression, opts ...Option) (*Conn, *peer) {
	tb.Helper()
	return newPairWith(tb, acceptDeflate(params), append([]Option{WithCompression(c)}, opts...)...)
}

// newPairCompressedIf is newDeflatePair with params and c when compressed,
// newPair otherwise: for the tests that run both ways.
func newPairCompressedIf(tb testing.TB, compressed bool, params string, c Compression) (*Conn, *peer) {
	tb.Helper()
	if compressed {
		return newDeflatePair(tb, params, c)
	}
	return newPair(tb)
}

// serverDeflater compresses messages as a server does: with context
// takeover, unless reset between messages.
type serverDeflater struct {
	fw  *flate.Writer
	out bytes.Buffer
}

func newServerDeflater(level int) *serverDeflater {
	s := &serverDeflater{}
	s.fw, _ = flate.NewWriter(&s.out, level)
	return s
}

// compress returns the payload of p as a compressed message.
func (s *serverDeflater) compress(p []byte) []byte {
	s.fw.Write(p)
	s.fw.Flush()
	b := bytes.Clone(s.out.Bytes())
	s.out.Reset()
	if !bytes.HasSuffix(b, []byte(syncMarker)) {
		panic("flush did not end in a sync marker")
	}
	return b[:len(b)-len(syncMarker)]
}

// deflated compresses p on its own, as a message's payload.
func deflated(p []byte) []byte { return newServerDeflater(flate.BestCompression).compress(p) }

// serverInflater decompresses the client's messages as a server does,
// keeping the window between messages unless told not to.
type serverInflater struct {
	noContext bool
	hist      []byte
}

func (s *serverInflater) inflate(payload []byte) ([]byte, error) {
	var dict []byte
	if !s.noContext {
		dict = s.hist
	}
	fr := flate.NewReaderDict(io.MultiReader(bytes.NewReader(payload), strings.NewReader(deflateTail)), dict)
	out, err := io.ReadAll(fr)
	if err != nil {
		return nil, err
	}
	s.hist = append(s.hist, out...)
	s.hist = s.hist[max(0, len(s.hist)-32<<10):]
	return out, nil
}

// clientMessage is one data message as the client sent it.
type clientMessage struct {
	op      byte
	rsv     byte // of its first frame
	frames  int
	payload []byte // its frames' payloads, joined
}

// readMessage reads the frames of the client's next data message. RSV bits
// on any frame but the first are an error.
func (p *peer) readMessage() (clientMessage, error) {
	var m clientMessage
	for {
		f, err := p.readFrame()
		if err != nil {
			return m, err
		}
		if m.frames > 0 && (f.rsv != 0 || f.op != opContinuation) {
			return m, fmt.Errorf("frame %d of a message has rsv %#x, op %#x", m.frames, f.rsv, f.op)
		}
		if m.frames == 0 {
			m.op, m.rsv = f.op, f.rsv
		}
		m.frames++
		m.payload = append(m.payload, f.payload...)
		if f.fin {
			return m, nil
		}
	}
}

// textLike is n bytes of words, which compress well, as text and JSON do.
func textLike(n int, seed uint64) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog websocket frame message deflate window context " +
		`{"id": 42, "name": "wsdial", "tags": ["a", "b"]} proxy tunnel handshake`)
	r := rand.New(rand.NewPCG(seed, 1))
	var b []byte
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}

// noise is n bytes that do not compress.
func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func TestDeflateReadCrafted(t *testing.T) {
	hello := deflated([]byte("hello, hello, hello"))
	long := textLike(100<<10, 1)
	longC := deflated(long)
	final := func(p []byte) []byte { // compressed with a final block, as RFC 7692 §7.2.3.4 allows
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, 9)
		fw.Write(p)
		fw.Close()
		return b.Bytes()
	}
	var twoCtx [2][]byte
	{
		s := newServerDeflater(9)
		twoCtx[0] = s.compress(long[:4000])
		twoCtx[1] = s.compress(long[:4000])
		if len(twoCtx[1]) > 50 {
			t.Fatalf("second message of %d bytes does not rely on the first", len(twoCtx[1]))
		}
	}
	invalidUTF8 := deflated([]byte("ok \xff\xfe"))
	splitUTF8 := deflated([]byte("€"))

	cases := []struct {
		readCase
		params string
	}{
		{readCase: closedBy(readCase{name: "compressed text", send: frame(fin|rsv1|opTxt, hello),
			msgs: []message{{TextMessage, []byte("hello, hello, hello")}}})},
		{readCase: closedBy(readCase{name: "compressed binary, empty", send: frame(fin|rsv1|opBin, []byte{0}),
			msgs: []message{{BinaryMessage, []byte{}}}})},
		{readCase: closedBy(readCase{name: "no payload at all", send: frame(fin|rsv1|opBin, nil),
			msgs: []message{{BinaryMessage, []byte{}}}})},
		{readCase: closedBy(readCase{name: "uncompressed beside compressed",
			send: join(frame(fin|opTxt, []byte("plain")), frame(fin|rsv1|opTxt, hello), frame(fin|opBin, []byte{1})),
			msgs: []message{{TextMessage, []byte("plain")}, {TextMessage, []byte("hello, hello, hello")}, {BinaryMessage, []byte{1}}}})},
		{readCase: closedBy(readCase{name: "fragmented, ping inside",
			send: join(frame(rsv1|opTxt, longC[:1]), frame(opCont, longC[1:1000]), frame(fin|opPng, []byte("p")),
				frame(opCont, nil), frame(opCont, longC[1000:]), frame(fin|opCont, nil)),
			msgs: []message{{TextMessage, long}}, pongs: [][]byte{[]byte("p")}})},
		{readCase: closedBy(readCase{name: "final block",
			send: join(frame(fin|rsv1|opBin, final([]byte("abcabcabc"))), frame(fin|rsv1|opBin, hello)),
			msgs: []message{{BinaryMessage, []byte("abcabcabc")}, {BinaryMessage, []byte("hello, hello, hello")}}})},
		{readCase: closedBy(readCase{name: "final block, empty frame after",
			send: join(frame(rsv1|opBin, final([]byte("abc"))), frame(fin|opCont, nil)),
			msgs: []message{{BinaryMessage, []byte("abc")}}})},
		{readCase: closedBy(readCase{name: "context takeover",
			send: join(frame(fin|rsv1|opTxt, twoCtx[0]), frame(fin|rsv1|opTxt, twoCtx[1])),
			msgs: []message{{TextMessage, long[:4000]}, {TextMessage, long[:4000]}}})},
		{readCase: closedBy(readCase{name: "context takeover across an uncompressed message",
			send: join(frame(fin|rsv1|opTxt, twoCtx[0]), frame(fin|opTxt, []byte("x")), frame(fin|rsv1|opTxt, twoCtx[1])),
			msgs: []message{{TextMessage, long[:4000]}, {TextMessage, []byte("x")}, {TextMessage, long[:4000]}}})},
		{readCase: closedBy(readCase{name: "server window of 12 bits",
			send: join(frame(fin|rsv1|opTxt, twoCtx[0]), frame(fin|rsv1|opTxt, twoCtx[1])),
			msgs: []message{{TextMessage, long[:4000]}, {TextMessage, long[:4000]}}}),
			params: "; server_max_window_bits=12"},
		{readCase: closedBy(readCase{name: "read limit exact", limit: int64(len(long)), send: frame(fin|rsv1|opTxt, longC),
			msgs: []message{{TextMessage, long}}})},
		{readCase: closedBy(readCase{name: "stored, larger than the limit allows uncompressed", limit: 70000,
			send: frame(fin|rsv1|opBin, newServerDeflater(flate.NoCompression).compress(pattern(70000))),
			msgs: []message{{BinaryMessage, pattern(70000)}}})},

		// Failures.
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV1 on a ping",
			send: join(frame(fin|rsv1|opTxt, hello), frame(fin|rsv1|opPng, nil)), msgs: []message{{TextMessage, []byte("hello, hello, hello")}}})},
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV1 on a close", send: frame(fin|rsv1|opCls, closePayload(1000, ""))})},
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV1 on a continuation",
			send: join(frame(rsv1|opTxt, longC[:100]), frame(fin|rsv1|opCont, longC[100:]))})},
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV1 on a continuation of a plain message",
			send: join(frame(opTxt, []byte("a")), frame(fin|rsv1|opCont, []byte{0}))})},
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV2", send: frame(fin|rsv2|opTxt, hello)})},
		{readCase: failedWith(StatusProtocolError, readCase{name: "RSV1 and RSV3", send: frame(fin|rsv1|rsv3|opTxt, hello)})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "invalid block type", send: frame(fin|rsv1|opBin, []byte{0xff, 0xff, 0xff})})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "stored block length mismatch",
			send: frame(fin|rsv1|opBin, []byte{0x00, 0x05, 0x00, 0x00, 0x00})})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "truncated", send: frame(fin|rsv1|opTxt, longC[:len(longC)/2])})},
		// Whatever follows the end of the deflate stream inside the message
		// is ignored, as zlib-based peers do: RFC 7692 §7.2.3.4's own example
		// leaves a byte there.
		{readCase: closedBy(readCase{name: "data after the final block is ignored",
			send: join(frame(rsv1|opBin, append(final([]byte("abc")), 1, 2, 3)), frame(fin|opCont, []byte{4, 5})),
			msgs: []message{{BinaryMessage, []byte("abc")}}})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "invalid UTF-8 inside", send: frame(fin|rsv1|opTxt, invalidUTF8)})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "UTF-8 cut short",
			send: frame(fin|rsv1|opTxt, deflated([]byte("€")[:2]))})},
		{readCase: closedBy(readCase{name: "UTF-8 split across frames",
			send: join(frame(rsv1|opTxt, splitUTF8[:1]), frame(fin|opCont, splitUTF8[1:])), msgs: []message{{TextMessage, []byte("€")}}})},
		{readCase: failedWith(StatusInvalidFramePayloadData, readCase{name: "context refused with server_no_context_takeover",
			send: join(frame(fin|rsv1|opTxt, twoCtx[0]), frame(fin|rsv1|opTxt, twoCtx[1])), msgs: []message{{TextMessage, long[:4000]}}}),
			params: "; server_no_context_takeover"},
		{readCase: failedWith(StatusMessageTooBig, readCase{name: "read limit plus one", limit: int64(len(long)) - 1, send: frame(fin|rsv1|opTxt, longC)})},
		{readCase: failedWith(StatusMessageTooBig, readCase{name: "endless empty blocks", limit: 1000,
			send: frame(fin|rsv1|opBin, bytes.Repeat([]byte{0, 0, 0, 0xff, 0xff}, 20000))})},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				var opts []Option
				if tc.limit != 0 {
					opts = append(opts, WithReadLimit(tc.limit))
				}
				conn, p := newDeflatePair(t, tc.params, Compression{}, opts...)
				runReadCase(t, conn, p, tc.readCase, stream)
			})
		}
	}
}

// TestRFC7692Examples reads the messages of RFC 7692 §7.2.3, byte for byte
// as the RFC gives them, each on a connection of its own, whole and, where
// the RFC shows it, fragmented.
func TestRFC7692Examples(t *testing.T) {
	hello := []message{{TextMessage, []byte("Hello")}}
	cases := []readCase{
		// §7.2.3.1: one compressed DEFLATE block, in one frame and in two.
		{name: "7.2.3.1", send: []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, msgs: hello},
		{name: "7.2.3.1 fragmented", send: []byte{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}, msgs: hello},
		// §7.2.3.2: the second message refers back into the first.
		{name: "7.2.3.2", send: []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00},
			msgs: append(hello, hello...)},
		// §7.2.3.3: a block with no compression.
		{name: "7.2.3.3", send: []byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, msgs: hello},
		// §7.2.3.4: a block with BFINAL set, and the 0x00 the §7.2.1
		// algorithm leaves behind it.
		{name: "7.2.3.4", send: []byte{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, msgs: hello},
		// §7.2.3.5: two DEFLATE blocks in one message.
		{name: "7.2.3.5", send: []byte{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}, msgs: hello},
		// §7.2.3.6: the single 0x00 of an empty message.
		{name: "7.2.3.6", send: []byte{0xc1, 0x01, 0x00}, msgs: []message{{TextMessage, []byte{}}}},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				conn, p := newDeflatePair(t, "", Compression{})
				runReadCase(t, conn, p, closedBy(tc), stream)
			})
		}
	}
}

// runReadCase sends tc's frames from p and checks what conn reads, through
// ReadMessage or, with stream, NextReader in small reads.
func runReadCase(t *testing.T, conn *Conn, p *peer, tc readCase, stream bool) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		_, err := p.c.Write(tc.send)
		sent <- err
	}()
	end := make(chan clientEnd, 1)
	go func() { end <- p.readUntilClose() }()

	var err error
	for i := 0; ; i++ {
		var mt MessageType
		var msg []byte
		if stream {
			var r io.Reader
			if mt, r, err = conn.NextReader(); err == nil {
				msg, err = io.ReadAll(io.LimitReader(r, 64<<20))
				msg = append([]byte{}, msg...)
			}
		} else {
			mt, msg, err = conn.ReadMessage()
		}
		if err != nil {
			break
		}
		if i >= len(tc.msgs) {
			t.Fatalf("message %d beyond the %d expected: %v, %d bytes", i, len(tc.msgs), mt, len(msg))
		}
		if want := tc.msgs[i]; mt != want.t || !bytes.Equal(msg, want.p) {
			t.Fatalf("message %d: got %v of %d bytes, want %v of %d", i, mt, len(msg), want.t, len(want.p))
		}
	}
	var ce *CloseError
	var pe *ProtocolError
	switch {
	case tc.protocol && errors.As(err, &pe):
		if pe.Code != tc.code {
			t.Errorf("got %v, want code %v", err, tc.code)
		}
	case !tc.protocol && errors.As(err, &ce):
		if ce.Code != tc.code {
			t.Errorf("got %v, want code %v", err, tc.code)
		}
	default:
		t.Errorf("reads ended with %v (%T), want code %v", err, err, tc.code)
	}
	e := <-end
	if e.closeCode != tc.sentCode {
		t.Errorf("client sent close %v, want %v", e.closeCode, tc.sentCode)
	}
	if len(e.pongs) != len(tc.pongs) {
		t.Errorf("client sent %d pongs, want %d", len(e.pongs), len(tc.pongs))
	}
	p.c.Close()
	<-sent
}

// bomb is a compressed message of n blocks, each of which inflates to 1 MiB
// of zeros from about 1 KiB, near deflate's limit of 1032 to 1.
func bomb(blocks int) []byte {
	block := newServerDeflater(flate.BestCompression).compress(make([]byte, 1<<20))
	block = append(block, syncMarker...) // each block whole, so that they chain
	return bytes.Repeat(block, blocks)
}

func TestDeflateBomb(t *testing.T) {
	// 4 MiB that would inflate to 4 GiB, in frames of 256 KiB (256 MiB
	// each), against a read limit of 1 MiB.
	const limit = 1 << 20
	b := bomb(4 << 10)
	var frames []byte
	for i := 0; i < len(b); i += 256 << 10 {
		b0 := byte(opCont)
		if i == 0 {
			b0 = rsv1 | opBin
		}
		if i+256<<10 >= len(b) {
			b0 |= fin
		}
		frames = appendFrame(frames, b0, b[i:min(len(b), i+256<<10)])
	}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			conn, p := newDeflatePair(t, "", Compression{}, WithReadLimit(limit))
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				p.c.Write(frames) // fails once the client has closed
			}()
			end := make(chan clientEnd, 1)
			go func() { end <- p.readUntilClose() }()

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var n int64
			var err error
			if stream {
				var r io.Reader
				if _, r, err = conn.NextReader(); err == nil {
					n, err = io.CopyBuffer(io.Discard, r, make([]byte, 32<<10))
				}
			} else {
				var msg []byte
				_, msg, err = conn.ReadMessage()
				n = int64(len(msg))
			}
			runtime.ReadMemStats(&after)
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != StatusMessageTooBig {
				t.Fatalf("read %d bytes, then %v; want 1009", n, err)
			}
			if n > limit {
				t.Errorf("read %d bytes past the limit", n)
			}
			// The bytes the client allocated while reading: its buffers,
			// a decompressor, and (without stream) the message up to the
			// limit as it grew. The 4 GiB never come.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("allocated %d bytes reading the bomb", alloc)
			} else {
				t.Logf("allocated %d KiB reading a bomb of %d MiB that inflates to %d GiB", alloc>>10, len(b)>>20, len(b)>>10>>10)
			}
			if e := <-end; e.closeCode != StatusMessageTooBig {
				t.Errorf("client sent close %v, want 1009", e.closeCode)
			}
			p.c.Close()
			<-sent
		})
	}
}

// TestDeflateWrite checks what the client sends: compressed above the
// threshold and not below, by WriteMessage and NextWriter, with and without
// context takeover and with a server-set window.
func TestDeflateWrite(t *testing.T) {
	type write struct {
		data    []byte
		stream  int  // with NextWriter, in writes of this many bytes; 0: WriteMessage
		deflate bool // expected compressed
	}
	small := []byte("short message")
	text4k := textLike(4000, 2)
	big := textLike(80<<10, 3) // more than a frame and than BestSpeed's 64 KiB block
	rnd := noise(70000, 4)
	standard := []write{
		{data: small},
		{data: small, stream: 3},
		{data: text4k, deflate: true},
		{data: text4k, deflate: true}, // the same again, which context takeover shrinks
		{data: text4k, stream: 1, deflate: true},
		{data: big, deflate: true},
		{data: big, stream: 1000, deflate: true},
		{data: big, stream: 64 << 10, deflate: true},
		{data: rnd, deflate: true},
		{data: rnd, stream: 7000, deflate: true},
		{data: []byte{}},
		{data: textLike(127, 5)},
		{data: textLike(128, 5), deflate: true},
		{data: textLike(128, 5), stream: 100, deflate: true},
	}
	cases := []struct {
		name      string
		params    string
		c         Compression
		writes    []write
		noContext bool // the client must not rely on earlier messages
		window    int  // the client's back-references must stay within it
	}{
		{name: "context takeover", c: Compression{ClientContextTakeover: true}, writes: standard},
		{name: "default, client_no_context_takeover answered", params: "; client_no_context_takeover", writes: standard, noContext: true},
		{name: "default, client_no_context_takeover not answered", writes: standard, noContext: true},
		{name: "client_no_context_takeover imposed", c: Compression{ClientContextTakeover: true}, params: "; client_no_context_takeover",
			writes: standard, noContext: true},
		{name: "client window 9 bits", params: "; client_max_window_bits=9", writes: standard, noContext: true, window: 1 << 9},
		{name: "client window 12 bits, level 9", params: "; client_max_window_bits=12", c: Compression{Level: 9}, writes: standard,
			noContext: true, window: 1 << 12},
		{name: "level 9", c: Compression{Level: 9, ClientContextTakeover: true}, writes: standard},
		{name: "level 9 without context", c: Compression{Level: 9}, writes: standard, noContext: true},
		{name: "huffman only", c: Compression{Level: flate.HuffmanOnly, ClientContextTakeover: true}, writes: standard},
		{name: "threshold 5000", c: Compression{Threshold: 5000}, noContext: true, writes: []write{
			{data: text4k}, {data: text4k, stream: 100}, {data: textLike(5000, 1), deflate: true}, {data: textLike(5000, 1), stream: 1, deflate: true}}},
		{name: "threshold 100000 streams at 16 KiB", c: Compression{Threshold: 100000}, writes: []write{
			{data: textLike(99999, 1)}, {data: textLike(16<<10, 1), stream: 1000, deflate: true}, {data: textLike(16000, 1), stream: 1000}}},
		{name: "threshold negative", c: Compression{Threshold: -1}, writes: []write{
			{data: []byte{}, deflate: true}, {data: []byte{}, stream: 1, deflate: true}, {data: []byte("a"), deflate: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, p := newDeflatePair(t, tc.params, tc.c)
			si := &serverInflater{noContext: tc.noContext}
			done := make(chan error, 1)
			go func() {
				defer close(done)
				for i, w := range tc.writes {
					var err error
					if w.stream == 0 {
						err = conn.WriteMessage(BinaryMessage, w.data)
					} else {
						var mw io.WriteCloser
						if mw, err = conn.NextWriter(BinaryMessage); err == nil {
							for d := w.data; len(d) > 0 && err == nil; d = d[min(len(d), w.stream):] {
								_, err = mw.Write(d[:min(len(d), w.stream)])
							}
							if cerr := mw.Close(); err == nil {
								err = cerr
							}
						}
					}
					if err != nil {
						done <- fmt.Errorf("write %d: %w", i, err)
						return
					}
				}
			}()
			var sizes []int
			for i, w := range tc.writes {
				m, err := p.readMessage()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if m.op != opBin {
					t.Fatalf("message %d has opcode %#x", i, m.op)
				}
				got := m.payload
				if w.deflate != (m.rsv == rsv1) {
					t.Fatalf("message %d of %d bytes: rsv %#x, want compressed %v", i, len(w.data), m.rsv, w.deflate)
				}
				if m.rsv == rsv1 {
					sizes = append(sizes, len(m.payload))
					if got, err = si.inflate(m.payload); err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					if tc.window > 0 {
						checkPieces(t, m.payload, w.data, tc.window)
					}
				}
				if !bytes.Equal(got, w.data) {
					t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(w.data))
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The repeated 4000 bytes: without context takeover the
			// compressor starts afresh and makes the same bytes twice; with
			// it, the second copy refers back to the first.
			if len(tc.writes) > 3 && tc.writes[2].deflate && tc.writes[3].deflate {
				first, second := sizes[0], sizes[1]
				switch {
				case tc.noContext && second != first:
					t.Errorf("without context takeover, the same message compressed to %d then %d bytes", first, second)
				case !tc.noContext && tc.c.Level != flate.HuffmanOnly && second >= first:
					t.Errorf("with context takeover, the same message compressed to %d then %d bytes", first, second)
				}
				t.Logf("the same 4000 bytes compressed to %d then %d bytes", first, second)
			}
		})
	}
}

// checkPieces checks that payload is data compressed in independent pieces
// of window bytes at BestSpeed, so that no back-reference reaches further
// than the window: compress/flate is deterministic, so doing the same here
// must give the same bytes.
func checkPieces(t *testing.T, payload, data []byte, window int) {
	t.Helper()
	var want bytes.Buffer
	fw, _ := flate.NewWriter(&want, flate.BestSpeed)
	for i := 0; i < len(data) || i == 0; i += window {
		fw.Reset(&want)
		fw.Write(data[i:min(len(data), i+window)])
		fw.Flush()
	}
	if !bytes.Equal(append(bytes.Clone(payload), syncMarker...), want.Bytes()) {
		t.Fatalf("%d bytes were not compressed in pieces of %d", len(data), window)
	}
}

// TestDeflateNextReaderDiscard leaves compressed messages half read: the
// next read must still find the window intact.
func TestDeflateNextReaderDiscard(t *testing.T) {
	conn, p := newDeflatePair(t, "", Compression{})
	s := newServerDeflater(6)
	msgs := [][]byte{textLike(50000, 7), textLike(50000, 7), textLike(3000, 7)}
	var send []byte
	for _, m := range msgs {
		send = appendFrame(send, fin|rsv1|opTxt, s.compress(m))
	}
	go p.c.Write(send)
	for i := range 2 {
		_, r, err := conn.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, msgs[i][:100]) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_, got, err := conn.ReadMessage()
	if err != nil || !bytes.Equal(got, msgs[2]) {
		t.Fatalf("last message: %d bytes, %v", len(got), err)
	}
}

// TestDeflateIdleMemory measures the heap that an idle connection holds
// after one compressed message each way, beyond an uncompressed one, for
// each setting of context takeover. The figures in WithCompression's
// documentation come from here (go test -run IdleMemory -v).
func TestDeflateIdleMemory(t *testing.T) {
	const conns = 40
	msg := textLike(2000, 9)
	compressed := deflated(msg)
	perConn := func(t *testing.T, header string, opts ...Option) int64 {
		keep := make([]*Conn, 0, conns)
		runtime.GC()
		runtime.GC() // and again, to empty the pools' victim caches
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range conns {
			conn, p := newPairWith(t, header, opts...)
			f := frame(fin|rsv1|opBin, compressed)
			if header == "" {
				f = frame(fin|opBin, msg)
			}
			if _, err := p.c.Write(f); err != nil {
				t.Fatal(err)
			}
			if _, got, err := conn.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if err := conn.WriteMessage(BinaryMessage, msg); err != nil {
				t.Fatal(err)
			}
			if _, err := p.readMessage(); err != nil {
				t.Fatal(err)
			}
			keep = append(keep, conn)
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	}
	plain := perConn(t, "")
	cases := []struct {
		name   string
		params string
		c      Compression
		max    int64 // beyond an uncompressed connection
	}{
		{"no context takeover", "; client_no_context_takeover; server_no_context_takeover",
			Compression{ServerNoContextTakeover: true}, 4 << 10},
		{"server context takeover (the default)", "; client_no_context_takeover", Compression{}, 40 << 10},
		{"server context, window of 12 bits", "; client_no_context_takeover; server_max_window_bits=12", Compression{}, 8 << 10},
		{"client context takeover only", "; server_no_context_takeover",
			Compression{ClientContextTakeover: true, ServerNoContextTakeover: true}, 2 << 20},
		{"context takeover both ways", "", Compression{ClientContextTakeover: true}, 2 << 20},
	}
	t.Logf("uncompressed: %d bytes per idle connection (both ends of the test pair)", plain)
	for _, tc := range cases {
		extra := perConn(t, acceptDeflate(tc.params), WithCompression(tc.c)) - plain
		t.Logf("%-36s %7d bytes more per idle connection", tc.name+":", extra)
		if extra > tc.max {
			t.Errorf("%s: an idle connection holds %d bytes more than an uncompressed one, over %d", tc.name, extra, tc.max)
		}
	}
}

// TestDeflateReadLimitAtMaximum: the largest read limit there is must not
// overflow any sum on the way, for a compressed message read either way.
func TestDeflateReadLimitAtMaximum(t *testing.T) {
	msg := textLike(3000, 11)
	for _, stream := range []bool{false, true} {
		conn, p := newDeflatePair(t, "", Compression{}, WithReadLimit(math.MaxInt64))
		runReadCase(t, conn, p, closedBy(readCase{name: "max limit", send: frame(fin|rsv1|opTxt, deflated(msg)),
			msgs: []message{{TextMessage, msg}}}), stream)
	}
}

// TestConcurrentCompressedWrites is TestConcurrentWrites compressed: 8
// goroutines write messages through WriteMessage and NextWriter, some below
// the threshold, and ping, while the server pings. Every message must
// inflate, in the order the wire gives, to what its writer sent, with and
// without context takeover, which ties each message to all before it.
func TestConcurrentCompressedWrites(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			const writers, perWriter, pings = 8, 60, 100
			params := "; client_no_context_takeover"
			if takeover {
				params = ""
			}
			conn, p := newDeflatePair(t, params, Compression{ClientContextTakeover: takeover, Threshold: 64})
			readDone := readUntilError(conn) // answers the server's pings
			go func() {
				for i := range pings {
					if _, err := p.c.Write(frame(fin|opPng, []byte{byte(i)})); err != nil {
						return
					}
				}
			}()
			payload := func(g, i int) []byte {
				return append(fmt.Appendf(nil, "%d:%d:", g, i), textLike(i*397%30000, uint64(g*perWriter+i))...)
			}
			writeErrs := make(chan error, writers)
			for g := range writers {
				go func() {
					for i := range perWriter {
						data := payload(g, i)
						var err error
						switch i % 3 {
						case 0:
							var w io.WriteCloser
							if w, err = conn.NextWriter(TextMessage); err == nil {
								for k := 0; k < len(data) && err == nil; k += 5000 {
									_, err = w.Write(data[k:min(k+5000, len(data))])
								}
								if cerr := w.Close(); err == nil {
									err = cerr
								}
							}
						case 1:
							if err = conn.Ping([]byte("c")); err == nil {
								err = conn.WriteMessage(TextMessage, data)
							}
						default:
							err = conn.WriteMessage(TextMessage, data)
						}
						if err != nil {
							writeErrs <- err
							return
						}
					}
					writeErrs <- nil
				}()
			}
			si := &serverInflater{noContext: !takeover}
			next := make([]int, writers)
			for got := 0; got < writers*perWriter; got++ {
				var m clientMessage
				for {
					f, err := p.readFrame()
					if err != nil {
						t.Fatalf("after %d messages: %v", got, err)
					}
					if isControl(f.op) {
						continue
					}
					if m.frames > 0 && (f.rsv != 0 || f.op != opContinuation) || m.frames == 0 && f.op != opText {
						t.Fatalf("frame %d of a message has rsv %#x, opcode %#x", m.frames, f.rsv, f.op)
					}
					if m.frames == 0 {
						m.rsv = f.rsv
					}
					m.frames++
					m.payload = append(m.payload, f.payload...)
					if f.fin {
						break
					}
				}
				data := m.payload
				if m.rsv != 0 {
					var err error
					if data, err = si.inflate(m.payload); err != nil {
						t.Fatalf("message %d does not inflate: %v", got, err)
					}
				}
				var g, i int
				if _, err := fmt.Sscanf(string(data), "%d:%d:", &g, &i); err != nil || g >= writers {
					t.Fatalf("message %q: %v", data[:min(len(data), 20)], err)
				}
				if i != next[g] || !bytes.Equal(data, payload(g, i)) {
					t.Fatalf("writer %d: message %d arrived (or corrupt), want %d", g, i, next[g])
				}
				next[g]++
			}
			for range writers {
				if err := <-writeErrs; err != nil {
					t.Error(err)
				}
			}
			p.c.Write(normalClose)
			if err := <-readDone; !errors.As(err, new(*CloseError)) {
				t.Fatalf("reader ended with %v", err)
			}
		})
	}
}
