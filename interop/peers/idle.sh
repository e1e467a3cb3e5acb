# Idle-cutting proxies for the keepalive tests, sourced by run.sh (ports
# 18500-18549). A python-websockets echo server that sends no pings of its
# own stands behind two proxies that cut a tunnel after 2 s without traffic:
#   nginx   as a WebSocket reverse proxy with proxy_read_timeout 2s
#   HAProxy as an HTTP proxy with timeout tunnel 2s
# Either cuts an idle WebSocket with a plain FIN and no close frame.
# HAProxy's PID is handed to the tests, which freeze it (SIGSTOP) to make a
# path that dies without a FIN, and resume it (SIGCONT).

readonly P_IDLE_PY_WS=18500 P_IDLE_PY_WSS=18501 P_IDLE_NGINX=18502 P_IDLE_HAPROXY=18503
DEB_PACKAGES+=" haproxy"
ALL_PORTS+=" $P_IDLE_PY_WS $P_IDLE_PY_WSS $P_IDLE_NGINX $P_IDLE_HAPROXY"
PEER_STARTS+=(start_idle_peers)

conf_idle_nginx() {
	local d=$tmp/idle-nginx
	mkdir -p "$d/temp"
	chmod 711 "$d" "$d/temp"
	cat >"$d/nginx.conf" <<-EOF
		# nginx that cuts a WebSocket after 2 s with nothing from the server.
		$(nginx_preamble "$d" info 64)
		        server {
		                listen 127.0.0.1:$P_IDLE_NGINX;
		                location / {
		                        proxy_pass http://127.0.0.1:$P_IDLE_PY_WS;
		                        proxy_http_version 1.1;
		                        proxy_set_header Upgrade \$http_upgrade;
		                        proxy_set_header Connection "upgrade";
		                        proxy_set_header Host \$host;
		                        proxy_read_timeout 2s;
		                }
		        }
		}
	EOF
}

conf_idle_haproxy() {
	local d=$tmp/idle-haproxy
	mkdir -p "$d"
	cat >"$d/haproxy.cfg" <<-EOF
		# HAProxy that cuts an upgraded (tunnelled) connection after 2 s idle.
		global
		        log stderr format short local0 info
		defaults
		        mode http
		        log global
		        timeout connect 2s
		        timeout client 30s
		        timeout server 30s
		        timeout tunnel 2s
		frontend ws
		        bind 127.0.0.1:$P_IDLE_HAPROXY
		        default_backend echo
		backend echo
		        server py 127.0.0.1:$P_IDLE_PY_WS
	EOF
}

start_idle_peers() {
	conf_idle_nginx
	conf_idle_haproxy
	start idle-python-echo /usr/bin/python3 "$here/servers/echo_server.py" $P_IDLE_PY_WS $P_IDLE_PY_WSS \
		"$tmp/pki/server.pem" "$tmp/pki/server.key" noping
	start idle-nginx nginx -e "$tmp/idle-nginx/error.log" -p "$tmp/idle-nginx" -c "$tmp/idle-nginx/nginx.conf"
	# -db: stay in the foreground, so the PID recorded is HAProxy's own.
	start idle-haproxy haproxy -db -f "$tmp/idle-haproxy/haproxy.cfg"
	await idle-python-echo $P_IDLE_PY_WS $P_IDLE_PY_WSS
	await idle-nginx $P_IDLE_NGINX
	await idle-haproxy $P_IDLE_HAPROXY
	PEER_ENV+=("export WSDIAL_INTEROP_IDLE_PYTHON_WS=127.0.0.1:$P_IDLE_PY_WS")
	PEER_ENV+=("export WSDIAL_INTEROP_IDLE_NGINX=127.0.0.1:$P_IDLE_NGINX")
	PEER_ENV+=("export WSDIAL_INTEROP_IDLE_HAPROXY=127.0.0.1:$P_IDLE_HAPROXY")
	PEER_ENV+=("export WSDIAL_INTEROP_IDLE_HAPROXY_PID=${pids[-1]}")
}
