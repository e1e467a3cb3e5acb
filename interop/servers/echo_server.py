"""The python3-websockets echo server of the wsdial interop suite.

It listens on 127.0.0.1 only: once plain (ws://) and once with TLS (wss://).
Each text or binary message comes back unchanged, with its type kept, and
compressed when the client offered permessage-deflate. Of the offered
subprotocols it selects "chat", and none when "chat" is not offered.

Run it with Debian's interpreter, which sees Debian's websockets module:

    /usr/bin/python3 echo_server.py WS_PORT WSS_PORT CERT_FILE KEY_FILE [noping]

With "noping" the server sends no pings of its own (python-websockets pings
every 20 s by default), so that only the client keeps an idle connection
alive: the keepalive tests need that.
"""

import asyncio
import signal
import ssl
import sys

import websockets

HOST = "127.0.0.1"
MAX_MESSAGE = 16 * 1024 * 1024


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosedError as err:
        # One line, not a traceback: the client ended without a close handshake.
        print(f"{ws.remote_address}: closed without the close handshake: {err}", flush=True)


async def main(ws_port, wss_port, cert_file, key_file, ping):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)

    # compression is left at its default, "deflate": permessage-deflate with
    # python-websockets' own settings (a 12-bit window both ways), used only
    # when the client offers it.
    common = dict(subprotocols=["chat"], max_size=MAX_MESSAGE)
    if not ping:
        common["ping_interval"] = None
    async with websockets.serve(echo, HOST, ws_port, **common), websockets.serve(
        echo, HOST, wss_port, ssl=tls, **common
    ):
        print(f"ws echo listening on {HOST}:{ws_port}, wss on {HOST}:{wss_port}", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6) or sys.argv[5:] not in ([], ["noping"]):
        sys.exit(__doc__)
    ws_port, wss_port, cert_file, key_file = sys.argv[1:5]
    asyncio.run(main(int(ws_port), int(wss_port), cert_file, key_file, sys.argv[5:] == []))
