// Package wsdial is a WebSocket client that opens connections the way
// net.Dialer opens TCP ones, from behind the proxies of real networks: HTTP
// CONNECT proxies (plain or TLS, with Basic or challenge-response
// authentication), SOCKS5, and whatever HTTPS_PROXY and NO_PROXY say.
//
// It is a client library only. Package
// github.com/wsdial/wsdial/wsdialtest runs WebSocket echo servers and
// proxies on loopback for your tests.
//
// # A dial, a message and a close
//
// A Dialer is safe for concurrent use: make one and share it. The zero
// Dialer works, with the defaults of New().
//
//	d, err := wsdial.New() // proxy from the environment, system roots, 30 s bound on each dial
//	if err != nil {
//		return err // only an invalid option gets here
//	}
//	c, err := d.DialWebSocket(ctx, "wss://chat.example/ws?room=1")
//	if err != nil {
//		return err
//	}
//	defer c.Close() // the close handshake, with 1000
//	if err := c.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
//		return err
//	}
//	_, msg, err := c.ReadMessage()
//
// Every dial runs the same stages, top to bottom: resolve the proxy, reach
// the target (directly, through CONNECT or through SOCKS5), add TLS for
// wss://, and run the RFC 6455 opening handshake. The same Dialer also
// serves plain streams through the same proxies: DialContext and
// DialTLSContext have the shape of net.Dialer's, for http.Transport and
// other dial hooks. Handshake runs the opening handshake alone on a stream
// you already hold.
//
// # How the proxy is chosen
//
// WithProxy sends every dial through one proxy, loopback targets included;
// WithProxyFunc asks a function for each target; WithoutProxy dials
// directly. Otherwise, and by default, the environment decides, read once,
// when New runs (or at a zero Dialer's first use): ws:// targets take
// HTTP_PROXY and wss:// targets HTTPS_PROXY, ALL_PROXY serves either when
// its own variable is empty, NO_PROXY lists the hosts to reach directly,
// and localhost and loopback addresses are never proxied from the
// environment. See WithProxyFromEnvironment for the exact rules. Proxy URLs
// may be http://, https://, socks5:// or socks5h://; user information in
// them becomes the proxy's credentials.
//
// # Errors
//
// Every error that New, a dial or Handshake returns matches exactly one of
// five classes with errors.Is, which names the stage that failed:
//
//   - ErrInvalid: refused before any traffic (a bad URL, option or network);
//   - ErrProxy: resolving, reaching or passing the proxy;
//   - ErrDial: reaching the target without a proxy;
//   - ErrTLS: the TLS handshake with the target;
//   - ErrHandshake: the WebSocket opening handshake.
//
// A timeout or a cancellation matches the class of the stage it struck and
// context.DeadlineExceeded or context.Canceled. Sentinels name each
// handshake rule (ErrBadAccept and the others) and the proxy's 407
// (ErrProxyAuthRequired); *ProxyError and *HandshakeError, for errors.As,
// hold the status code and the response. Once connected, the peer's close
// arrives as a *CloseError, and a peer that breaks the protocol as a
// *ProtocolError.
package wsdial
