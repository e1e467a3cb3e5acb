"""The ASGI echo app of the wsdial interop suite, for hypercorn.

hypercorn serves it over TLS, with h2 and RFC 8441 WebSockets on the same port
as HTTP/1.1 upgrades. Each text or binary message comes back unchanged, with
its type kept. Of the offered subprotocols it selects "chat", and none when
"chat" is not offered; /deny is refused. The accept carries x-wsdial-http-version, the HTTP
version the WebSocket came over, so that the tests can see it. A plain HTTP
request gets 200 and "wsdial-interop hypercorn".

Run it with Debian's interpreter and hypercorn, from this directory:

    /usr/bin/python3 /usr/bin/hypercorn --bind 127.0.0.1:PORT \\
        --certfile CERT --keyfile KEY asgi_echo:app
"""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = b"wsdial-interop hypercorn\n"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] != "websocket":
        return
    event = await receive()
    if event["type"] != "websocket.connect":
        return
    if scope["path"] == "/deny":
        # Closing before the accept refuses the handshake: hypercorn answers 403.
        await send({"type": "websocket.close"})
        return
    subprotocol = "chat" if "chat" in scope.get("subprotocols", []) else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol,
                "headers": [(b"x-wsdial-http-version", scope["http_version"].encode())]})
    while True:
        event = await receive()
        if event["type"] == "websocket.receive":
            if event.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": event["bytes"]})
            else:
                await send({"type": "websocket.send", "text": event["text"]})
        elif event["type"] == "websocket.disconnect":
            return
