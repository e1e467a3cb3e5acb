# shellcheck shell=bash
# Peers of the proxy failover tests (issue 14, interop/failover_test.go), in
# the block 127.0.0.1:18700-18749. Sourced by run.sh.
#
#   18700  a blackholed address: a listener whose accept queue is full, so
#          that every SYN is dropped and a connect times out
#          (servers/blackhole.py)
#   18701  a refused port: nothing may listen there
#
# The live and refusing proxies are the suite's own squid, tinyproxy, dante
# and microsocks.

readonly P_FAILOVER_BLACKHOLE=18700 P_FAILOVER_REFUSED=18701
ALL_PORTS+=" $P_FAILOVER_BLACKHOLE"
PEER_STARTS+=(start_failover_peers)

start_failover_peers() {
	if listening "$P_FAILOVER_REFUSED"; then
		die "port $P_FAILOVER_REFUSED must stay free for the failover tests' refused connect; held by: $(ss -Hltnp "sport = :$P_FAILOVER_REFUSED")"
	fi
	start blackhole /usr/bin/python3 "$here/servers/blackhole.py" "$P_FAILOVER_BLACKHOLE"
	await blackhole "$P_FAILOVER_BLACKHOLE"
	# Listening is not enough: the queue must be full before any test
	# connects, or the first connect would be queued rather than dropped.
	local deadline=$((SECONDS + DEADLINE_START))
	until grep -q '^ready' "$tmp/logs/blackhole.log"; do
		if [ $SECONDS -ge $deadline ]; then
			tail -n 30 "$tmp/logs/blackhole.log" >&2 || true
			die "the blackhole did not fill its accept queue within ${DEADLINE_START}s; its log is above"
		fi
		sleep 0.1
	done
	PEER_ENV+=(
		"export WSDIAL_INTEROP_BLACKHOLE=127.0.0.1:$P_FAILOVER_BLACKHOLE"
		"export WSDIAL_INTEROP_REFUSED=127.0.0.1:$P_FAILOVER_REFUSED"
	)
}
