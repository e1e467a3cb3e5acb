// The npm ws echo server of the wsdial interop suite. It listens on
// 127.0.0.1 only: once plain (ws://) and once with TLS (wss://). Each text or
// binary message comes back unchanged, with its type kept, and compressed when
// the client offered permessage-deflate. Of the offered
// subprotocols it selects "chat", and none when "chat" is not offered.
//
// Usage: node echo-server.js WS_PORT WSS_PORT CERT_FILE KEY_FILE
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const [wsPort, wssPort, certFile, keyFile] = process.argv.slice(2);
if (!keyFile) {
  console.error('usage: node echo-server.js WS_PORT WSS_PORT CERT_FILE KEY_FILE');
  process.exit(2);
}

const host = '127.0.0.1';

function selectProtocol(offered) {
  return offered.has('chat') ? 'chat' : false;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (err) => console.error('connection error:', err.message));
}

function serve(server, port, name) {
  const wss = new WebSocketServer({
    server,
    handleProtocols: selectProtocol,
    // ws' defaults: messages of 1 KiB or more compressed, context takeover
    // unless the client asks otherwise; used only when the client offers it.
    perMessageDeflate: true,
    maxPayload: 16 * 1024 * 1024,
  });
  wss.on('connection', echo);
  server.on('error', (err) => {
    console.error(`${name} listener on ${host}:${port}:`, err.message);
    process.exit(1);
  });
  server.listen(Number(port), host, () => console.log(`${name} echo listening on ${host}:${port}`));
}

serve(http.createServer(), wsPort, 'ws');
serve(
  https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }),
  wssPort,
  'wss',
);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
