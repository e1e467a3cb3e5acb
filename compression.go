package wsdial

import (
	"compress/flate"
	"errors"
	"fmt"
	"strings"
)

// Compression configures permessage-deflate (RFC 7692), which WithCompression
// turns on. The zero value compresses messages of 128 bytes or more at
// flate.BestSpeed, each on its own, and lets the server keep its context.
type Compression struct {
	// Level is the compress/flate level of outgoing messages, from
	// flate.HuffmanOnly (-2) to flate.BestCompression (9), with
	// flate.DefaultCompression (-1) meaning 6. Zero means flate.BestSpeed,
	// which is the default: it is several times faster than level 6 and
	// loses little on the JSON and text that WebSocket messages mostly are.
	// Levels above it clear some 640 KiB of tables each time a pooled
	// compressor is taken up, that is for every message unless
	// ClientContextTakeover is set. When the server limits the client's
	// window below 15 bits, they fall back to flate.BestSpeed (see
	// WithCompression).
	Level int

	// Threshold is the length below which an outgoing message goes out
	// uncompressed, since deflate's framing outweighs what it saves on
	// short messages. Zero means 128 bytes; a negative value compresses
	// every message. A message written through NextWriter is measured by
	// the bytes written before it fills a frame (16 KiB), so a threshold
	// above that acts as 16 KiB for streamed messages.
	Threshold int

	// ClientContextTakeover keeps the compressor, and with it the last 32
	// KiB of what was sent, from one message to the next, so that a
	// message can refer back to earlier ones. That helps most on short,
	// similar messages, but a compress/flate compressor holds about 1.2
	// MiB, which each connection then keeps while idle. By default each
	// message is compressed on its own by a compressor borrowed from a
	// pool, and the offer says so (client_no_context_takeover), which
	// lets the server free its window between messages too. A server may
	// impose client_no_context_takeover itself, and is obeyed.
	ClientContextTakeover bool

	// ServerNoContextTakeover asks the server to compress each message on
	// its own (server_no_context_takeover), so that the connection need not
	// keep the server's window, up to 32 KiB, between messages. A server
	// may decline; the connection then keeps the window.
	ServerNoContextTakeover bool
}

// defaultThreshold is the shortest message compressed unless told otherwise.
const defaultThreshold = 128

// compression is a Compression checked and resolved to its defaults, with
// the offer it makes.
type compression struct {
	level                int
	threshold            int // compress messages at least this long; 0: all
	clientNoContext      bool
	serverNoContext      bool
	offerClientMaxWindow bool // the offer carries client_max_window_bits
	offer                string
}

func newCompression(c Compression) (*compression, error) {
	z := &compression{
		level:                c.Level,
		threshold:            c.Threshold,
		clientNoContext:      !c.ClientContextTakeover,
		serverNoContext:      c.ServerNoContextTakeover,
		offerClientMaxWindow: true,
	}
	switch {
	case z.level == 0:
		z.level = flate.BestSpeed
	case z.level == flate.DefaultCompression:
		z.level = 6
	case z.level < flate.HuffmanOnly || z.level > flate.BestCompression:
		return nil, fmt.Errorf("compression level %d is outside %d to %d", c.Level, flate.HuffmanOnly, flate.BestCompression)
	}
	switch {
	case z.threshold == 0:
		z.threshold = defaultThreshold
	case z.threshold < 0:
		z.threshold = 0
	}
	z.offer = z.makeOffer()
	return z, nil
}

// makeOffer builds the value of Sec-WebSocket-Extensions. It offers
// client_max_window_bits with no value, saying that the client can compress
// within any window the server names: see deflater for how a window below
// 15 bits is honoured with compress/flate.
func (z *compression) makeOffer() string {
	s := "permessage-deflate"
	if z.offerClientMaxWindow {
		s += "; client_max_window_bits"
	}
	if z.clientNoContext {
		s += "; client_no_context_takeover"
	}
	if z.serverNoContext {
		s += "; server_no_context_takeover"
	}
	return s
}

// deflateParams is what the server's response settled.
type deflateParams struct {
	on bool // permessage-deflate is in use

	serverNoContext bool // server_no_context_takeover
	clientNoContext bool // client_no_context_takeover
	serverBits      int  // server_max_window_bits, 15 if absent
	clientBits      int  // client_max_window_bits, 15 if absent
}

// negotiateDeflate checks the response's Sec-WebSocket-Extensions against
// the offer z, which is nil when compression is off. RFC 7692 §5.1 has the
// client fail the connection on a parameter that is unknown, has a bad value
// or repeats, and on a configuration it cannot support.
func negotiateDeflate(h *responseHead, z *compression) (deflateParams, error) {
	var p deflateParams
	if z == nil {
		var err error
		h.values("Sec-WebSocket-Extensions", func(v string) bool {
			err = fmt.Errorf("%w: %q", ErrBadExtension, clip(v))
			return false
		})
		return p, err
	}
	var err error
	for _, fl := range h.fields {
		if err != nil {
			break
		}
		if !strings.EqualFold(fl.name, "Sec-WebSocket-Extensions") {
			continue
		}
		err = parseExtensions(fl.value, func(name string, params []extParam) error {
			if name != "permessage-deflate" {
				return fmt.Errorf("%q was not offered", clip(name))
			}
			if p.on {
				return errors.New("permessage-deflate named twice")
			}
			var perr error
			p, perr = z.accept(params)
			return perr
		})
	}
	if err != nil {
		return deflateParams{}, fmt.Errorf("%w: %w", ErrBadExtension, err)
	}
	return p, nil
}

// accept turns the parameters of the server's permessage-deflate into the
// settings of the connection, refusing what the client did not allow.
func (z *compression) accept(params []extParam) (deflateParams, error) {
	p := deflateParams{on: true, serverBits: 15, clientBits: 15}
	seen := make(map[string]bool, len(params))
	for _, e := range params {
		if seen[e.name] {
			return p, fmt.Errorf("parameter %s repeated", e.name)
		}
		seen[e.name] = true
		switch e.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if e.hasValue {
				return p, fmt.Errorf("parameter %s has a value", e.name)
			}
			if e.name == "server_no_context_takeover" {
				p.serverNoContext = true
			} else {
				p.clientNoContext = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			if e.name == "client_max_window_bits" && !z.offerClientMaxWindow {
				return p, errors.New("client_max_window_bits was not offered")
			}
			bits, ok := windowBits(e)
			if !ok {
				return p, fmt.Errorf("parameter %s has the value %q, not 8 to 15", e.name, clip(e.value))
			}
			if e.name == "server_max_window_bits" {
				p.serverBits = bits
			} else {
				p.clientBits = bits
			}
		default:
			return p, fmt.Errorf("unknown parameter %q", clip(e.name))
		}
	}
	return p, nil
}

// windowBits reads the value of a max_window_bits parameter: a decimal
// from 8 to 15 without leading zeros (RFC 7692 §7.1.2), which a response
// must always give.
func windowBits(e extParam) (int, bool) {
	v := e.value
	if !e.hasValue || len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	return n, 8 <= n && n <= 15
}

// extParam is one parameter of an extension in Sec-WebSocket-Extensions.
type extParam struct {
	name     string
	value    string // unquoted
	hasValue bool
}

// parseExtensions parses one Sec-WebSocket-Extensions value by the grammar of
// RFC 6455 §9.1: a comma-separated list of extensions, each a token followed
// by parameters "; name" or "; name=value", the value a token or a
// quoted-string. It calls f with each extension. Empty list elements are
// skipped, as RFC 9110 §5.6.1 asks of recipients.
func parseExtensions(s string, f func(name string, params []extParam) error) error {
	var params []extParam
	for {
		s = trimOWS(s)
		if s == "" {
			return nil
		}
		if s[0] == ',' {
			s = s[1:]
			continue
		}
		var name string
		name, s = cutToken(s)
		if name == "" {
			return fmt.Errorf("malformed extension list at %q", clip(s))
		}
		params = params[:0]
		for {
			s = trimOWS(s)
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return fmt.Errorf("malformed parameters of %q at %q", clip(name), clip(s))
			}
			var e extParam
			e.name, s = cutToken(trimOWS(s[1:]))
			if e.name == "" {
				return fmt.Errorf("malformed parameter of %q at %q", clip(name), clip(s))
			}
			if s = trimOWS(s); s != "" && s[0] == '=' {
				s = trimOWS(s[1:])
				e.hasValue = true
				var ok bool
				if s != "" && s[0] == '"' {
					e.value, s, ok = cutQuoted(s)
				} else {
					e.value, s = cutToken(s)
					ok = e.value != ""
				}
				if !ok {
					return fmt.Errorf("malformed value of parameter %q", clip(e.name))
				}
			}
			params = append(params, e)
		}
		if err := f(name, params); err != nil {
			return err
		}
	}
}

func trimOWS(s string) string { return strings.TrimLeft(s, " \t") }

// cutToken splits the longest token off the front of s.
func cutToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenByte(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// cutQuoted splits a quoted-string off the front of s, which starts with its
// opening quote, and returns its content unescaped.
func cutQuoted(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i++; i == len(s) {
				return "", "", false
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// useCompression sets c up for the permessage-deflate that the handshake
// settled.
func (c *Conn) useCompression(p deflateParams, z *compression) {
	c.rd.rsvAllowed = bitRSV1
	c.rd.inflate = newInflater(c, p)
	c.wr.deflate = newDeflater(p, z)
}
