// Package wsdialtest runs WebSocket servers and proxies on loopback for
// tests, as net/http/httptest runs HTTP servers: an echo server, plain
// (NewEchoServer) or over TLS (NewTLSEchoServer), and proxies that tunnel to
// it, over HTTP CONNECT (NewProxy) or SOCKS5 (NewSOCKS5Proxy), with or
// without credentials (WithBasicAuth). With them a test can check code that
// dials through proxies, the environment's included (WithRoute), without
// leaving the machine.
//
// Every server listens on 127.0.0.1 and never connects beyond loopback.
// Each owns the goroutines and connections it starts; Close ends them all.
// The package uses only the standard library, and implements the server's
// side of RFC 6455 itself.
package wsdialtest
