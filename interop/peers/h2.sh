# shellcheck shell=bash
# HTTP/2 peers of the wsdial interop suite (issue 16), sourced by run.sh.
# Ports 127.0.0.1:18600-18649:
#   18600  hypercorn: an ASGI echo app (servers/asgi_echo.py) over TLS, h2 with
#          RFC 8441 WebSockets and HTTP/1.1 upgrades on the same port
#   18601  nghttpx: a TLS h2 frontend with RFC 8441 in front of the HTTP/1.1
#          echo servers: /node/ to npm ws, any other path to python-websockets
#   18602  nghttpx in HTTP/2 proxy mode (http2-proxy) in front of squid, open
#   18603  the same in front of squid with Basic auth
#   18604  HAProxy: a TLS h2 frontend with RFC 8441 in front of python-websockets
#   18605  the same, whose "timeout tunnel 2s" cuts a WebSocket idle for 2 s
#   18606  Node.js's core http2 module with enableConnectProtocol: an RFC 8441
#          echo server of its own (node/h2-echo-server.js)
# The tests are interop/h2_test.go; they read WSDIAL_INTEROP_HYPERCORN and the
# others below.

readonly P_HYPERCORN=18600 P_NGHTTPX=18601 P_NGHTTPX_PROXY=18602 P_NGHTTPX_PROXY_AUTH=18603
readonly P_HAPROXY_H2=18604 P_HAPROXY_H2_IDLE=18605 P_NODE_H2=18606

DEB_PACKAGES+=" python3-hypercorn nghttp2-proxy haproxy"
ALL_PORTS+=" $P_HYPERCORN $P_NGHTTPX $P_NGHTTPX_PROXY $P_NGHTTPX_PROXY_AUTH $P_HAPROXY_H2 $P_HAPROXY_H2_IDLE $P_NODE_H2"
PEER_STARTS+=(start_h2_peers)

# nghttpx_conf NAME PORT [lines]: a configuration for one nghttpx on PORT,
# with the suite's certificate, one worker and no OCSP fetching.
nghttpx_conf() {
	local name=$1 port=$2 d=$tmp/nghttpx
	shift 2
	mkdir -p "$d"
	{
		echo "# nghttpx for the wsdial interop suite: $name"
		echo "frontend=127.0.0.1,$port"
		echo "private-key-file=$tmp/pki/server.key"
		echo "certificate-file=$tmp/pki/server.pem"
		echo "workers=1"
		echo "no-ocsp=yes"
		echo "pid-file=$d/$name.pid"
		echo "accesslog-file=$d/$name.access.log"
		echo "errorlog-file=$d/$name.error.log"
		printf '%s\n' "$@"
	} >"$d/$name.conf"
}

conf_haproxy() {
	local d=$tmp/haproxy
	mkdir -p "$d"
	cat "$tmp/pki/server.pem" "$tmp/pki/server.key" >"$d/server.pem"
	cat >"$d/haproxy.cfg" <<-EOC
		# HAProxy for the wsdial interop suite: TLS h2 frontends with RFC 8441
		# WebSockets, turned into HTTP/1.1 upgrades to python-websockets.
		global
		        maxconn 256
		        pidfile $d/haproxy.pid
		defaults
		        mode http
		        timeout connect 5s
		        timeout client 60s
		        timeout server 60s
		        timeout tunnel 60s
		frontend h2
		        bind 127.0.0.1:$P_HAPROXY_H2 ssl crt $d/server.pem alpn h2,http/1.1
		        default_backend py
		frontend h2idle
		        bind 127.0.0.1:$P_HAPROXY_H2_IDLE ssl crt $d/server.pem alpn h2,http/1.1
		        default_backend pyidle
		backend py
		        server py 127.0.0.1:$P_PY_WS
		backend pyidle
		        timeout tunnel 2s
		        server py 127.0.0.1:$P_PY_WS
	EOC
}

start_h2_peers() {
	say "starting the HTTP/2 peers"
	nghttpx_conf nghttpx $P_NGHTTPX \
		"backend=127.0.0.1,$P_PY_WS;;proto=http/1.1" \
		"backend=127.0.0.1,$P_NODE_WS;/node/;proto=http/1.1"
	nghttpx_conf nghttpx-proxy $P_NGHTTPX_PROXY "http2-proxy=yes" "backend=127.0.0.1,$P_SQUID_PLAIN"
	nghttpx_conf nghttpx-proxy-auth $P_NGHTTPX_PROXY_AUTH "http2-proxy=yes" "backend=127.0.0.1,$P_SQUID_AUTH"
	conf_haproxy
	start hypercorn /usr/bin/python3 /usr/bin/hypercorn --bind "127.0.0.1:$P_HYPERCORN" \
		--certfile "$tmp/pki/server.pem" --keyfile "$tmp/pki/server.key" "$here/servers/asgi_echo:app"
	start nghttpx nghttpx --conf="$tmp/nghttpx/nghttpx.conf"
	start nghttpx-proxy nghttpx --conf="$tmp/nghttpx/nghttpx-proxy.conf"
	start nghttpx-proxy-auth nghttpx --conf="$tmp/nghttpx/nghttpx-proxy-auth.conf"
	start haproxy haproxy -db -f "$tmp/haproxy/haproxy.cfg"
	start node-h2 node "$here/node/h2-echo-server.js" $P_NODE_H2 "$tmp/pki/server.pem" "$tmp/pki/server.key"
	await hypercorn $P_HYPERCORN
	await nghttpx $P_NGHTTPX
	await nghttpx-proxy $P_NGHTTPX_PROXY
	await nghttpx-proxy-auth $P_NGHTTPX_PROXY_AUTH
	await haproxy $P_HAPROXY_H2 $P_HAPROXY_H2_IDLE
	await node-h2 $P_NODE_H2
	PEER_ENV+=(
		"export WSDIAL_INTEROP_HYPERCORN=127.0.0.1:$P_HYPERCORN"
		"export WSDIAL_INTEROP_NGHTTPX=127.0.0.1:$P_NGHTTPX"
		"export WSDIAL_INTEROP_NGHTTPX_PROXY=127.0.0.1:$P_NGHTTPX_PROXY"
		"export WSDIAL_INTEROP_NGHTTPX_PROXY_AUTH=127.0.0.1:$P_NGHTTPX_PROXY_AUTH"
		"export WSDIAL_INTEROP_HAPROXY_H2=127.0.0.1:$P_HAPROXY_H2"
		"export WSDIAL_INTEROP_HAPROXY_H2_IDLE=127.0.0.1:$P_HAPROXY_H2_IDLE"
		"export WSDIAL_INTEROP_NODE_H2=127.0.0.1:$P_NODE_H2"
	)
}
