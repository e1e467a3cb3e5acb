package wsdial

import (
	"net/http"
	"strings"
	"testing"
)

// TestFramingHeadersRefused checks that neither the upgrade request nor the
// CONNECT request can be given a field that changes how the peer frames the
// message or treats the connection: a proxy told Content-Length: 5 would take
// the first five tunnel bytes as the CONNECT's content (RFC 9110 §9.3.6).
func TestFramingHeadersRefused(t *testing.T) {
	framing := []string{"Content-Length", "Transfer-Encoding", "TE", "Trailer", "Expect",
		"Connection", "Keep-Alive", "Upgrade", "Proxy-Connection"}
	for _, name := range framing {
		for _, key := range []string{name, strings.ToLower(name)} {
			h := http.Header{key: {"5"}}
			_, err := New(WithHeader(h))
			checkClass(t, err, ErrInvalid)
			_, err = New(WithProxyHeader(h))
			checkClass(t, err, ErrInvalid)
		}
	}
	// The CONNECT request's Host is the request line's authority; the
	// upgrade's may be replaced.
	_, err := New(WithProxyHeader(http.Header{"host": {"elsewhere.example"}}))
	checkClass(t, err, ErrInvalid)
	if _, err := New(WithHeader(http.Header{"Host": {"virtual.example"}})); err != nil {
		t.Errorf("WithHeader(Host): %v", err)
	}
	if _, err := New(WithProxyHeader(http.Header{"X-Proxy-Token": {"t"}, "Proxy-Authorization": {"Bearer t"}})); err != nil {
		t.Errorf("WithProxyHeader with ordinary fields: %v", err)
	}
}
