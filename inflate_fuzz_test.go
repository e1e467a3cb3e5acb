package wsdial

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// inflateRef decompresses payload as RFC 7692 asks, with dict as the window,
// straight through compress/flate: the reference the client must agree with.
// ok is false when the data is invalid or ends before its last block, or
// when the output passes limit (if limit > 0). Whatever follows the last
// block is ignored, as RFC 7692 §7.2.3.4's example needs.
func inflateRef(payload, dict []byte, limit int64) (out []byte, ok bool) {
	tail := deflateTail
	if len(payload) == 0 {
		tail = tail[len(syncMarker):]
	}
	in := bytes.NewReader(append(bytes.Clone(payload), tail...))
	var r io.Reader = flate.NewReaderDict(in, dict)
	if limit > 0 {
		r = io.LimitReader(r, limit+1)
	}
	out, err := io.ReadAll(r)
	if err != nil || limit > 0 && int64(len(out)) > limit {
		return nil, false
	}
	return out, true
}

// FuzzInflate sends two compressed messages, cut from data, in frames of frag
// bytes, and checks the client's reads against compress/flate's own reading
// of the same bytes: what it accepts, the client returns unchanged; what it
// refuses, or what passes the limit or is not UTF-8 text, fails the
// connection with 1007 or 1009, never a panic and never more memory than the
// limit. flags picks text, server_no_context_takeover, streamed reads and
// server_max_window_bits (8 + flags>>3&7).
func FuzzInflate(f *testing.F) {
	long := textLike(3000, 1)
	s := newServerDeflater(flate.BestCompression)
	ctx1, ctx2 := s.compress(long), s.compress(long)
	f.Add(deflated([]byte("hello, hello")), uint16(0), uint8(0), uint16(1000), uint8(7<<3|1))
	f.Add(append(ctx1, ctx2...), uint16(len(ctx1)), uint8(100), uint16(4000), uint8(7<<3|1))
	f.Add(append(ctx1, ctx2...), uint16(len(ctx1)), uint8(0), uint16(0), uint8(2))
	f.Add(append(ctx1, ctx2...), uint16(len(ctx1)), uint8(3), uint16(3000), uint8(4<<3|4))
	f.Add(bomb(1), uint16(0), uint8(0), uint16(60000), uint8(7<<3))
	f.Add([]byte{0xff, 0xff}, uint16(1), uint8(1), uint16(10), uint8(0))
	f.Add([]byte{0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c', 'x'}, uint16(0), uint8(0), uint16(10), uint8(0))
	f.Add(deflated([]byte("\xe2\x82")), uint16(0), uint8(1), uint16(100), uint8(1))
	// RFC 7692 §7.2.3.4: a final block, then a byte the reader ignores.
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint16(8), uint8(3), uint16(10), uint8(1))

	f.Fuzz(func(t *testing.T, data []byte, cut uint16, frag uint8, limit uint16, flags uint8) {
		text, noContext, stream := flags&1 != 0, flags&2 != 0, flags&4 != 0
		bits := 8 + int(flags>>3&7)
		msgs := [2][]byte{data, nil}
		if int(cut) < len(data) {
			msgs = [2][]byte{data[:cut], data[cut:]}
		}
		op := byte(opBin)
		if text {
			op = opTxt
		}
		var in []byte
		for _, m := range msgs {
			if frag == 0 {
				in = appendFrame(in, fin|rsv1|op, m)
				continue
			}
			b0 := rsv1 | op
			for {
				n := min(len(m), int(frag))
				if n == len(m) {
					b0 |= fin
				}
				in = appendFrame(in, b0, m[:n])
				if n == len(m) {
					break
				}
				m, b0 = m[n:], opCont
			}
		}
		mc := &memConn{r: bytes.NewReader(in)}
		z, _ := newCompression(Compression{})
		conn := newConn(mc, "", "", &config{readLimit: int64(limit)})
		conn.useCompression(deflateParams{on: true, serverNoContext: noContext, serverBits: bits, clientBits: 15}, z)

		var hist []byte
		for i, m := range msgs {
			var dict []byte
			if !noContext {
				dict = hist[max(0, len(hist)-1<<bits):]
			}
			want, ok := inflateRef(m, dict, int64(limit))
			if ok && text && !utf8.Valid(want) {
				ok = false
			}
			var got []byte
			var err error
			if stream {
				var r io.Reader
				if _, r, err = conn.NextReader(); err == nil {
					buf := make([]byte, 7)
					for {
						n, rerr := r.Read(buf)
						got = append(got, buf[:n]...)
						if rerr != nil {
							if rerr != io.EOF {
								err = rerr
							}
							break
						}
					}
				}
			} else {
				_, got, err = conn.ReadMessage()
			}
			if ok {
				if err != nil {
					t.Fatalf("message %d: flate reads %d bytes, the client fails: %v", i, len(want), err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: the client reads %q, flate %q", i, got, want)
				}
				hist = append(hist, got...)
				continue
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != StatusInvalidFramePayloadData && pe.Code != StatusMessageTooBig {
				t.Fatalf("message %d: flate refuses it, the client reads %d bytes and %v", i, len(got), err)
			}
			if limit > 0 && len(got) > int(limit) {
				t.Fatalf("message %d: %d bytes read past the limit of %d", i, len(got), limit)
			}
			return
		}
	})
}
