#!/usr/bin/env bash
# The wsdial interop suite: installs real third-party proxies and WebSocket
# servers (from Debian and npm), starts each on a fixed loopback port with a
# configuration written to a temporary directory, runs the Go tests in this
# folder against them, and stops exactly the processes it started.
#
# Usage: bash interop/run.sh [go test flags...]
#   e.g. bash interop/run.sh -run 'TestInterop/squid'
#        bash interop/run.sh --serve   start the peers and wait (Ctrl-C stops
#                                      them); run go test by hand meanwhile
# Environment:
#   WSDIAL_INTEROP_KEEP=1  keep the temporary directory (configs, logs, certs)
#   WSDIAL_INTEROP_SKIP_INSTALL=1  assume the peers are installed already
#
# Every peer listens on 127.0.0.1 only; the script checks that with ss before
# any test runs and aborts otherwise. See README.md for the port map.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

say() { printf '== interop: %s\n' "$*"; }
die() { printf 'interop: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: the script installs packages and starts proxies that switch users"

# ---------------------------------------------------------------------------
# Port map: one block, 127.0.0.1:18080-18301. README.md lists the same.
# ---------------------------------------------------------------------------
readonly P_SQUID_PLAIN=18080 P_SQUID_AUTH=18081 P_SQUID_TLS=18082
readonly P_TINY_PLAIN=18090 P_TINY_AUTH=18091 P_TINY_PORTS=18092
readonly P_DANTE_OPEN=18100 P_DANTE_AUTH=18101
readonly P_MSOCKS_OPEN=18110 P_MSOCKS_AUTH=18111
readonly P_PY_WS=18200 P_PY_WSS=18201
readonly P_NODE_WS=18210 P_NODE_WSS=18211
readonly P_NGINX_H1=18300 P_NGINX_H2=18301
ALL_PORTS="$P_SQUID_PLAIN $P_SQUID_AUTH $P_SQUID_TLS $P_TINY_PLAIN $P_TINY_AUTH $P_TINY_PORTS
	$P_DANTE_OPEN $P_DANTE_AUTH $P_MSOCKS_OPEN $P_MSOCKS_AUTH $P_PY_WS $P_PY_WSS $P_NODE_WS $P_NODE_WSS
	$P_NGINX_H1 $P_NGINX_H2"

# The account that dante's username method checks, and the credentials of
# every proxy that asks for them. The password is new on every run.
readonly PROXY_USER=wsdial-interop
PROXY_PASS=$(openssl rand -hex 12 2>/dev/null || head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
readonly PROXY_PASS

readonly DEADLINE_START=20 # seconds a peer gets to listen
readonly DEADLINE_STOP=10  # seconds a peer gets to exit after SIGTERM

# ---------------------------------------------------------------------------
# Installs
# ---------------------------------------------------------------------------
DEB_PACKAGES="squid-openssl tinyproxy dante-server microsocks nginx python3-websockets openssl"

# ---------------------------------------------------------------------------
# Peers of their own: each file in peers/ is sourced here and may add
#   DEB_PACKAGES+=" pkg..."   Debian packages it needs
#   ALL_PORTS+=" port..."     its ports, on 127.0.0.1 (checked like the rest)
#   PEER_STARTS+=(fn)         a function run after the core peers are up and
#                             before the loopback check: it writes its configs
#                             under $tmp, calls start and await, and adds lines
#                             such as "export WSDIAL_INTEROP_X=..." to PEER_ENV
# Each file uses its own port block (see README.md) and the helpers below.
# ---------------------------------------------------------------------------
PEER_STARTS=()
PEER_ENV=()
for f in "$here"/peers/*.sh; do
	[ -e "$f" ] || continue
	# shellcheck source=/dev/null
	. "$f"
done

install_debian() {
	local missing=() p
	for p in $DEB_PACKAGES; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "Debian packages already installed"
		return
	fi
	say "installing from Debian: ${missing[*]}"
	# Keep the packages' install scripts from starting their services (on all
	# interfaces): policy-rc.d exiting 101 denies every start. Only a file we
	# made is removed afterwards.
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# made by wsdial interop/run.sh for one install; removed after it\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0
	apt-get update -qq || rc=$?
	if [ $rc -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$tmp/apt.log" 2>&1 || {
			rc=$?
			tail -n 30 "$tmp/apt.log" >&2
		}
	fi
	if [ -n "$made_policy" ]; then rm -f "$policy"; fi
	[ $rc -eq 0 ] || die "apt-get failed (status $rc)"
}

install_npm() {
	command -v node >/dev/null || die "node is not installed: the ws echo server needs Node.js"
	if [ -f "$here/node/node_modules/ws/package.json" ] &&
		[ "$(node -p "require('$here/node/node_modules/ws/package.json').version")" = \
			"$(node -p "require('$here/node/package.json').dependencies.ws")" ]; then
		say "npm ws already installed"
		return
	fi
	command -v npm >/dev/null || die "npm is not installed"
	say "installing npm ws into interop/node"
	(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
}

# A system account for dante's username method; made once, its password set
# on every run.
ensure_account() {
	if ! id "$PROXY_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$PROXY_USER" ||
			die "useradd $PROXY_USER failed"
	fi
	printf '%s:%s\n' "$PROXY_USER" "$PROXY_PASS" | chpasswd || die "chpasswd $PROXY_USER failed"
}

# ---------------------------------------------------------------------------
# Processes: started in the background, recorded by PID, stopped on exit.
# ---------------------------------------------------------------------------
pids=()   # PIDs this script started
names=()  # their names, same order
tmp=
status=1

# descendants PID...: every living descendant of the given PIDs.
descendants() {
	local p kids
	for p in "$@"; do
		kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
		for k in $kids; do
			echo "$k"
			descendants "$k"
		done
	done
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

stop_all() {
	[ ${#pids[@]} -gt 0 ] || return 0
	say "stopping ${#pids[@]} peers"
	local kids i p since=$SECONDS deadline
	# Helpers and workers that the peers forked, in case a peer has to be killed.
	kids=$(descendants "${pids[@]}")
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	deadline=$((SECONDS + DEADLINE_STOP))
	for i in "${!pids[@]}"; do
		p=${pids[$i]}
		while alive "$p" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		if alive "$p"; then
			echo "interop: ${names[$i]} (pid $p) ignored SIGTERM for ${DEADLINE_STOP}s; killing it" >&2
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	for p in $kids; do
		if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
	done
	say "peers stopped in $((SECONDS - since))s"
	pids=()
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if [ "${WSDIAL_INTEROP_KEEP:-}" = 1 ]; then
			say "kept $tmp"
		else
			rm -rf "$tmp"
		fi
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: runs CMD in the background, its output in $tmp/logs/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$tmp/logs/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}

# listening PORT: something listens on TCP PORT.
listening() {
	[ -n "$(ss -Hltn "sport = :$1")" ]
}

# await NAME PORT...: waits until every PORT listens, while the process
# started as NAME lives; fails with its log otherwise.
await() {
	local name=$1 i pid= port deadline
	shift
	for i in "${!names[@]}"; do
		if [ "${names[$i]}" = "$name" ]; then pid=${pids[$i]}; fi
	done
	deadline=$((SECONDS + DEADLINE_START))
	for port in "$@"; do
		until listening "$port"; do
			if ! alive "$pid"; then
				tail -n 30 "$tmp/logs/$name.log" >&2 || true
				die "$name exited before it listened on port $port; its log is above"
			fi
			if [ $SECONDS -ge $deadline ]; then
				tail -n 30 "$tmp/logs/$name.log" >&2 || true
				die "$name did not listen on port $port within ${DEADLINE_START}s; its log is above"
			fi
			sleep 0.1
		done
	done
}

# check_loopback: every TCP and UDP socket that a started process or one of
# its descendants listens on is bound to 127.0.0.1 or ::1, and each port of
# the map is held by one of them.
check_loopback() {
	local ours line addr pid bad=0 port
	ours=" $(printf '%s ' "${pids[@]}" $(descendants "${pids[@]}")) "
	while read -r line; do
		[ -n "$line" ] || continue
		addr=$(awk '{print $5}' <<<"$line")
		for pid in $(grep -o 'pid=[0-9]*' <<<"$line" | cut -d= -f2); do
			case "$ours" in *" $pid "*) ;; *) continue ;; esac
			case "$addr" in
			127.0.0.1:* | '[::1]:'*) ;;
			*)
				echo "interop: a peer listens beyond loopback: $line" >&2
				bad=1
				;;
			esac
		done
	done < <(ss -Hlntup)
	[ $bad -eq 0 ] || die "aborting before any test: a listener is not on 127.0.0.1 or ::1"
	for port in $ALL_PORTS; do
		line=$(ss -Hltnp "sport = :$port")
		addr=$(awk '{print $4}' <<<"$line")
		[ "$addr" = "127.0.0.1:$port" ] || die "port $port: expected one listener on 127.0.0.1, got: ${line:-none}"
		pid=$(grep -o 'pid=[0-9]*' <<<"$line" | head -n1 | cut -d= -f2)
		case "$ours" in *" $pid "*) ;; *) die "port $port is held by pid $pid, which this script did not start" ;; esac
	done
	say "every listener is on loopback"
}

# ---------------------------------------------------------------------------
# Certificates: a test CA, and one server certificate for localhost,
# 127.0.0.1 and ::1 that every TLS peer uses.
# ---------------------------------------------------------------------------
make_certs() {
	local d=$tmp/pki
	mkdir -p "$d"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=wsdial interop test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/openssl.log"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>>"$d/openssl.log"
	cat >"$d/server.ext" <<-EOF
		basicConstraints=critical,CA:FALSE
		keyUsage=critical,digitalSignature
		extendedKeyUsage=serverAuth
		subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
	EOF
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>>"$d/openssl.log"
	openssl verify -CAfile "$d/ca.pem" "$d/server.pem" >/dev/null || die "the server certificate does not verify"
}

# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

# squid_loopback_only prints the rules every squid of the suite starts its
# access list with: clients and targets on loopback, the suite's ports only.
squid_loopback_only() {
	cat <<-'EOF'
		acl from_loopback src 127.0.0.0/8 ::1
		acl to_loopback dst 127.0.0.0/8 ::1
		acl test_ports port 18000-18999
		http_access deny !from_loopback
		http_access deny !to_loopback
		http_access deny !test_ports
	EOF
}

# squid_local DIR NAME prints the lines every squid of the suite ends with:
# it never reaches beyond this machine (DNS only on loopback, names from
# /etc/hosts), caches nothing, and keeps its files in DIR.
squid_local() {
	cat <<-EOF
		dns_nameservers 127.0.0.1
		hosts_file /etc/hosts
		tcp_outgoing_address 127.0.0.1
		udp_incoming_address 127.0.0.1
		udp_outgoing_address 127.0.0.1
		cache deny all
		cache_mem 8 MB
		pinger_enable off
		netdb_filename none
		visible_hostname $2
		cache_effective_user proxy
		cache_effective_group proxy
		shutdown_lifetime 0 seconds
		pid_filename $1/squid.pid
		cache_log $1/cache.log
		access_log stdio:$1/access.log
		coredump_dir $1
	EOF
}

# nginx_preamble DIR LOGLEVEL CONNECTIONS prints the start of an nginx.conf
# of the suite, up to and with the opening of its http block: one worker in
# the foreground, its files in DIR, whose temp/ its workers (nobody) use.
nginx_preamble() {
	cat <<-EOF
		daemon off;
		master_process on;
		worker_processes 1;
		pid $1/nginx.pid;
		error_log $1/error.log $2;
		events {
		        worker_connections $3;
		}
		http {
		        access_log off;
		        client_body_temp_path $1/temp/body;
		        proxy_temp_path $1/temp/proxy;
		        fastcgi_temp_path $1/temp/fastcgi;
		        uwsgi_temp_path $1/temp/uwsgi;
		        scgi_temp_path $1/temp/scgi;
	EOF
}

conf_squid() {
	local d=$tmp/squid
	mkdir -p "$d"
	cp "$tmp/pki/server.pem" "$tmp/pki/server.key" "$d/"
	printf '%s:%s\n' "$PROXY_USER" "$(openssl passwd -apr1 "$PROXY_PASS")" >"$d/passwd"
	cat >"$d/squid.conf" <<-EOF
		# squid for the wsdial interop suite: three listeners on loopback.
		http_port 127.0.0.1:$P_SQUID_PLAIN name=plain
		http_port 127.0.0.1:$P_SQUID_AUTH name=auth
		https_port 127.0.0.1:$P_SQUID_TLS name=tls tls-cert=$d/server.pem tls-key=$d/server.key
		icp_port 0
		htcp_port 0
		snmp_port 0

		auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/passwd
		auth_param basic children 2 startup=1 idle=1
		auth_param basic realm wsdial-interop

		$(squid_loopback_only)
		acl on_auth_port myportname auth
		acl authenticated proxy_auth REQUIRED
		http_access deny on_auth_port !authenticated
		http_access allow CONNECT
		http_access deny all

		$(squid_local "$d" wsdial-interop)
	EOF
	chown -R proxy:proxy "$d"
	chmod 600 "$d/server.key" "$d/passwd"
}

conf_tinyproxy() { # conf_tinyproxy NAME PORT [extra lines]
	local name=$1 port=$2 extra=${3:-}
	cat >"$tmp/$name.conf" <<-EOF
		# tinyproxy for the wsdial interop suite.
		User nobody
		Group nogroup
		Listen 127.0.0.1
		Port $port
		Bind 127.0.0.1
		Allow 127.0.0.1
		Timeout 60
		MaxClients 64
		LogLevel Info
		DisableViaHeader Yes
		$extra
	EOF
}

conf_dante() { # conf_dante NAME PORT METHOD
	local name=$1 port=$2 method=$3
	cat >"$tmp/$name.conf" <<-EOF
		# dante for the wsdial interop suite.
		logoutput: stderr
		internal: 127.0.0.1 port = $port
		external: 127.0.0.1
		clientmethod: none
		socksmethod: $method
		user.privileged: root
		user.unprivileged: nobody

		client pass {
		        from: 127.0.0.0/8
		        to: 127.0.0.0/8
		}
		socks pass {
		        from: 127.0.0.0/8
		        to: 127.0.0.0/8
		        command: connect
		        log: error
		}
		socks block {
		        from: 0.0.0.0/0
		        to: 0.0.0.0/0
		        log: connect error
		}
	EOF
}

conf_nginx() {
	local d=$tmp/nginx
	mkdir -p "$d/temp"
	chmod 711 "$d" "$d/temp" # nginx's workers (nobody) use the temp paths
	cat >"$d/locations.conf" <<-EOF
		location = /ping {
		        default_type text/plain;
		        return 200 "wsdial-interop nginx\n";
		}
		location /py/ {
		        proxy_pass http://127.0.0.1:$P_PY_WS;
		        include $d/upgrade.conf;
		}
		location /node/ {
		        proxy_pass http://127.0.0.1:$P_NODE_WS;
		        include $d/upgrade.conf;
		}
	EOF
	cat >"$d/upgrade.conf" <<-'EOF'
		proxy_http_version 1.1;
		proxy_set_header Upgrade $http_upgrade;
		proxy_set_header Connection $connection_upgrade;
		proxy_set_header Host $host;
		proxy_read_timeout 120s;
		proxy_send_timeout 120s;
	EOF
	cat >"$d/nginx.conf" <<-EOF
		# nginx for the wsdial interop suite: a TLS reverse proxy in front of
		# both echo servers, once on an HTTP/1.1 listener and once on one that
		# also speaks h2, so ALPN would pick h2 if the client offered it.
		$(nginx_preamble "$d" warn 256)
		        ssl_certificate $tmp/pki/server.pem;
		        ssl_certificate_key $tmp/pki/server.key;
		        map \$http_upgrade \$connection_upgrade {
		                default upgrade;
		                '' close;
		        }
		        server {
		                listen 127.0.0.1:$P_NGINX_H1 ssl;
		                server_name localhost;
		                include $d/locations.conf;
		        }
		        server {
		                listen 127.0.0.1:$P_NGINX_H2 ssl http2;
		                server_name localhost;
		                include $d/locations.conf;
		        }
		}
	EOF
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
serve=
if [ "${1:-}" = --serve ]; then
	serve=1
	shift
fi

t0=$SECONDS
# Keys and passwords stay root's; each peer that drops to a user of its own
# is given what it needs to reach.
umask 077
tmp=$(mktemp -d /tmp/wsdial-interop.XXXXXX)
chmod 711 "$tmp"
mkdir -p "$tmp/logs"

for port in $ALL_PORTS; do
	if listening "$port"; then
		die "port $port is already in use: $(ss -Hltnp "sport = :$port")"
	fi
done

if [ "${WSDIAL_INTEROP_SKIP_INSTALL:-}" != 1 ]; then
	install_debian
	install_npm
fi
ensure_account
t_install=$((SECONDS - t0))

say "making the test CA and certificates"
make_certs
conf_squid
conf_tinyproxy tinyproxy-plain $P_TINY_PLAIN
conf_tinyproxy tinyproxy-auth $P_TINY_AUTH "BasicAuth $PROXY_USER $PROXY_PASS"
conf_tinyproxy tinyproxy-ports $P_TINY_PORTS "ConnectPort $P_PY_WS"
conf_dante dante-open $P_DANTE_OPEN none
conf_dante dante-auth $P_DANTE_AUTH username
conf_nginx

say "starting peers in $tmp"
start python-echo /usr/bin/python3 "$here/servers/echo_server.py" $P_PY_WS $P_PY_WSS "$tmp/pki/server.pem" "$tmp/pki/server.key"
start node-echo node "$here/node/echo-server.js" $P_NODE_WS $P_NODE_WSS "$tmp/pki/server.pem" "$tmp/pki/server.key"
start squid squid -N -f "$tmp/squid/squid.conf"
start tinyproxy-plain tinyproxy -d -c "$tmp/tinyproxy-plain.conf"
start tinyproxy-auth tinyproxy -d -c "$tmp/tinyproxy-auth.conf"
start tinyproxy-ports tinyproxy -d -c "$tmp/tinyproxy-ports.conf"
start dante-open danted -f "$tmp/dante-open.conf" -p "$tmp/dante-open.pid"
start dante-auth danted -f "$tmp/dante-auth.conf" -p "$tmp/dante-auth.pid"
start microsocks-open microsocks -i 127.0.0.1 -b 127.0.0.1 -p $P_MSOCKS_OPEN
start microsocks-auth microsocks -i 127.0.0.1 -b 127.0.0.1 -p $P_MSOCKS_AUTH -u "$PROXY_USER" -P "$PROXY_PASS"
start nginx nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"

await python-echo $P_PY_WS $P_PY_WSS
await node-echo $P_NODE_WS $P_NODE_WSS
await squid $P_SQUID_PLAIN $P_SQUID_AUTH $P_SQUID_TLS
await tinyproxy-plain $P_TINY_PLAIN
await tinyproxy-auth $P_TINY_AUTH
await tinyproxy-ports $P_TINY_PORTS
await dante-open $P_DANTE_OPEN
await dante-auth $P_DANTE_AUTH
await microsocks-open $P_MSOCKS_OPEN
await microsocks-auth $P_MSOCKS_AUTH
await nginx $P_NGINX_H1 $P_NGINX_H2
for fn in "${PEER_STARTS[@]}"; do "$fn"; done
t_start=$((SECONDS - t0 - t_install))
check_loopback

# What the tests are told, also kept in a file for --serve.
cat >"$tmp/env.sh" <<EOF
export WSDIAL_INTEROP_CA=$tmp/pki/ca.pem
export WSDIAL_INTEROP_USER=$PROXY_USER
export WSDIAL_INTEROP_PASS=$PROXY_PASS
export WSDIAL_INTEROP_SQUID_PLAIN=127.0.0.1:$P_SQUID_PLAIN
export WSDIAL_INTEROP_SQUID_AUTH=127.0.0.1:$P_SQUID_AUTH
export WSDIAL_INTEROP_SQUID_TLS=127.0.0.1:$P_SQUID_TLS
export WSDIAL_INTEROP_TINYPROXY_PLAIN=127.0.0.1:$P_TINY_PLAIN
export WSDIAL_INTEROP_TINYPROXY_AUTH=127.0.0.1:$P_TINY_AUTH
export WSDIAL_INTEROP_TINYPROXY_PORTS=127.0.0.1:$P_TINY_PORTS
export WSDIAL_INTEROP_DANTE_OPEN=127.0.0.1:$P_DANTE_OPEN
export WSDIAL_INTEROP_DANTE_AUTH=127.0.0.1:$P_DANTE_AUTH
export WSDIAL_INTEROP_MICROSOCKS_OPEN=127.0.0.1:$P_MSOCKS_OPEN
export WSDIAL_INTEROP_MICROSOCKS_AUTH=127.0.0.1:$P_MSOCKS_AUTH
export WSDIAL_INTEROP_PYTHON_WS=127.0.0.1:$P_PY_WS
export WSDIAL_INTEROP_PYTHON_WSS=127.0.0.1:$P_PY_WSS
export WSDIAL_INTEROP_NODE_WS=127.0.0.1:$P_NODE_WS
export WSDIAL_INTEROP_NODE_WSS=127.0.0.1:$P_NODE_WSS
export WSDIAL_INTEROP_NGINX_H1=127.0.0.1:$P_NGINX_H1
export WSDIAL_INTEROP_NGINX_H2=127.0.0.1:$P_NGINX_H2
EOF
for line in "${PEER_ENV[@]}"; do printf '%s\n' "$line" >>"$tmp/env.sh"; done
# shellcheck source=/dev/null
. "$tmp/env.sh"
# The tests must see no proxy from the environment: every proxy they use is named.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY http_proxy https_proxy all_proxy no_proxy

if [ "$serve" = 1 ]; then
	say "peers are up; in another shell: . $tmp/env.sh && cd $here && GOWORK=off go test ./..."
	say "stop them with Ctrl-C (or SIGTERM to pid $$)"
	wait -n "${pids[@]}" || true
	die "a peer exited; its log is in $tmp/logs (kept with WSDIAL_INTEROP_KEEP=1)"
fi

say "running the tests (installs ${t_install}s, peers up in ${t_start}s)"
log=$tmp/logs/go-test.log
t_test=$SECONDS
set +e
# -v for the log, which the counts below read; the screen is spared the RUN lines.
(cd "$here" && GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}" go test -count=1 -timeout=5m -v "$@" ./...) 2>&1 |
	tee "$log" | grep -v -E '^ *=== (RUN|PAUSE|CONT|NAME) '
status=${PIPESTATUS[0]}
set -e
t_test=$((SECONDS - t_test))

# Count the leaf tests (the cases), not the parents that group them.
read -r passed failed skipped < <(awk '
	BEGIN { n = 0 }
	/^ *--- (PASS|FAIL|SKIP): / { st = $2; sub(":", "", st); name[n] = $3; state[n++] = st }
	END {
		for (i = 0; i < n; i++) {
			leaf = 1
			for (j = 0; j < n; j++) if (index(name[j], name[i] "/") == 1) { leaf = 0; break }
			if (leaf) count[state[i]]++
		}
		printf "%d %d %d\n", count["PASS"], count["FAIL"], count["SKIP"]
	}' "$log")

if [ "$status" -ne 0 ]; then
	say "tests failed; the end of each peer's log:"
	for f in "$tmp"/logs/*.log "$tmp"/squid/cache.log "$tmp"/nginx/error.log; do
		[ -f "$f" ] && [ "$f" != "$log" ] || continue
		printf -- '--- %s\n' "${f#"$tmp"/}"
		tail -n 15 "$f"
	done
fi
if grep -q -- '--- SKIP' "$log"; then
	grep -- '--- SKIP' "$log" >&2
	say "tests were skipped; through run.sh every test must run"
	[ "$status" -ne 0 ] || status=1
fi
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
	say "no test ran"
	status=1
fi
stop_all
say "installs ${t_install}s, peers up ${t_start}s, tests ${t_test}s (with the build); the whole run $((SECONDS - t0))s"
echo "interop: $passed passed, $failed failed, $skipped skipped"
exit "$status"
