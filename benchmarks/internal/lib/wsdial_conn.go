package lib

import "github.com/wsdial/wsdial"

type wsdialConn struct{ c *wsdial.Conn }

// Write sends p as one message of type t.
func (w wsdialConn) Write(t MsgType, p []byte) error {
	return w.c.WriteMessage(wsdial.MessageType(t), p)
}

// Read reads the next message into buf through NextReader, which
// allocates nothing when buf is large enough.
func (w wsdialConn) Read(buf []byte) ([]byte, error) {
	_, r, err := w.c.NextReader()
	if err != nil {
		return buf[:0], err
	}
	return readInto(r, buf)
}
