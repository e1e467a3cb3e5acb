// The Node.js http2 echo server of the wsdial interop suite: WebSockets over
// HTTP/2 (RFC 8441) from Node's core http2 module alone, a server
// implementation of its own beside hypercorn, nghttpx and HAProxy. It
// listens on 127.0.0.1 only, with TLS, and advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL. An extended CONNECT with :protocol
// websocket gets 200, with "chat" as its subprotocol when offered; /deny gets
// 403. Each frame of a message comes back unmasked, with its opcode and FIN
// bit kept, so a message comes back unchanged; a ping gets its pong, and a
// close its close, after which the server ends the stream. The accept
// carries x-wsdial-http-version: 2.
//
// Usage: node h2-echo-server.js PORT CERT_FILE KEY_FILE
'use strict';

const fs = require('fs');
const http2 = require('http2');

const [port, certFile, keyFile] = process.argv.slice(2);
if (!keyFile) {
  console.error('usage: node h2-echo-server.js PORT CERT_FILE KEY_FILE');
  process.exit(2);
}

// The longest frame payload it takes: enough for the suite's 1 MiB message
// sent whole, a bound on what a broken client can make it hold.
const maxPayload = 16 * 1024 * 1024;

// frameHeader builds the header of an unmasked frame of a server.
function frameHeader(b0, length) {
  if (length < 126) {
    return Buffer.from([b0, length]);
  }
  if (length < 65536) {
    const h = Buffer.alloc(4);
    h[0] = b0;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = b0;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

// echo reads the client's frames from stream and answers each.
function echo(stream) {
  let buf = Buffer.alloc(0);
  let closed = false;
  stream.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (!closed) {
      if (buf.length < 2) {
        return;
      }
      const b0 = buf[0];
      const masked = (buf[1] & 0x80) !== 0;
      let length = buf[1] & 0x7f;
      let off = 2;
      if (length === 126) {
        if (buf.length < 4) return;
        length = buf.readUInt16BE(2);
        off = 4;
      } else if (length === 127) {
        if (buf.length < 10) return;
        const n = buf.readBigUInt64BE(2);
        if (n > BigInt(maxPayload)) {
          stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
          return;
        }
        length = Number(n);
        off = 10;
      }
      if (!masked) {
        // RFC 6455 §5.1: a client masks every frame.
        closed = true;
        stream.end(Buffer.concat([frameHeader(0x88, 2), Buffer.from([0x03, 0xea])]));
        return;
      }
      if (buf.length < off + 4 + length) {
        return;
      }
      const key = buf.subarray(off, off + 4);
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + length));
      for (let i = 0; i < payload.length; i++) {
        payload[i] ^= key[i & 3];
      }
      buf = buf.subarray(off + 4 + length);
      const op = b0 & 0x0f;
      if (op === 0x9) {
        stream.write(Buffer.concat([frameHeader(0x8a, payload.length), payload]));
      } else if (op === 0x8) {
        closed = true;
        stream.end(Buffer.concat([frameHeader(0x88, payload.length), payload]));
      } else if (op !== 0xa) {
        stream.write(Buffer.concat([frameHeader(b0 & 0x8f, payload.length), payload]));
      }
    }
  });
  stream.on('error', (err) => console.error('stream error:', err.message));
}

const server = http2.createSecureServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  settings: { enableConnectProtocol: true },
});

server.on('stream', (stream, headers) => {
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('wsdial-interop node http2\n');
    return;
  }
  if (headers[':path'] === '/deny') {
    stream.respond({ ':status': 403 });
    stream.end();
    return;
  }
  const offered = (headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
  // What the TLS session agreed by ALPN, not a constant: the test checks
  // that the server saw HTTP/2.
  const version = stream.session.alpnProtocol === 'h2' ? '2' : String(stream.session.alpnProtocol);
  const response = { ':status': 200, 'x-wsdial-http-version': version };
  if (offered.includes('chat')) {
    response['sec-websocket-protocol'] = 'chat';
  }
  stream.respond(response);
  echo(stream);
});

server.on('sessionError', (err) => console.error('session error:', err.message));
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${port}`);
});

// The suite stops it with SIGTERM while test dialers may still hold HTTP/2
// connections open: waiting for them would only delay the end.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
