# Proxy authentication peers, sourced by run.sh (ports 18400-18449):
#   an MIT Kerberos KDC for the test realm WSDIAL.TEST, with the user jane,
#   the user bob (whom the proxies do not accept) and HTTP/localhost in a
#   keytab that squid's helper reads;
#   squid with negotiate_kerberos_auth (Negotiate only);
#   squid with ntlm_fake_auth (NTLM only; the helper checks the flow of the
#   three messages, not the password);
#   squid offering Basic, NTLM and Negotiate, in that order, which accepts
#   jane by Kerberos, jane by NTLM (its helper strips the domain) and
#   WSDIAL\carol by Basic with her real password, and no one else.
# Every squid tunnels to the suite's echo servers. kinit runs here, into
# private caches: jane's, one of jane's that lives one second (expired when
# the tests run), and bob's.

readonly P_KDC=18400 P_SQUID_NEGOTIATE=18410 P_SQUID_NTLM=18411 P_SQUID_ANYAUTH=18412
readonly KRB5_REALM=WSDIAL.TEST
DEB_PACKAGES+=" krb5-kdc krb5-admin-server krb5-user"
ALL_PORTS+=" $P_KDC $P_SQUID_NEGOTIATE $P_SQUID_NTLM $P_SQUID_ANYAUTH"
PEER_STARTS+=(start_auth_peers)

# auth_random: a fresh secret for this run.
auth_random() { openssl rand -hex 12; }

conf_kdc() {
	local d=$1
	cat >"$d/krb5.conf" <<-EOF
		# Kerberos clients of the wsdial interop suite: one realm, one KDC on
		# loopback, no DNS of any kind.
		[libdefaults]
		        default_realm = $KRB5_REALM
		        dns_lookup_kdc = false
		        dns_lookup_realm = false
		        dns_canonicalize_hostname = false
		        rdns = false
		        ticket_lifetime = 1h
		[realms]
		        $KRB5_REALM = {
		                kdc = 127.0.0.1:$P_KDC
		        }
		[domain_realm]
		        localhost = $KRB5_REALM
	EOF
	cat >"$d/kdc.conf" <<-EOF
		# The KDC of the wsdial interop suite, on loopback only.
		[kdcdefaults]
		        kdc_listen = 127.0.0.1:$P_KDC
		        kdc_tcp_listen = 127.0.0.1:$P_KDC
		[realms]
		        $KRB5_REALM = {
		                database_name = $d/principal
		                key_stash_file = $d/stash
		                acl_file = $d/kadm5.acl
		                max_life = 1h
		                default_principal_flags = +preauth
		        }
		[logging]
		        kdc = FILE:$d/kdc.log
	EOF
	: >"$d/kadm5.acl"
	chmod 644 "$d/krb5.conf" # squid's helper, as user proxy, reads it
}

# conf_auth_squid NAME PORT AUTH ACCESS: a squid that tunnels to the suite's
# test ports on loopback, with the auth_param lines AUTH and the
# http_access lines ACCESS before its allow.
conf_auth_squid() {
	local name=$1 port=$2 auth=$3 access=$4 d=$tmp/auth/$1
	mkdir -p "$d"
	cat >"$d/squid.conf" <<-EOF
		# squid $name for the wsdial interop suite's authentication cases.
		http_port 127.0.0.1:$port
		icp_port 0
		htcp_port 0
		snmp_port 0
		$auth
		$(squid_loopback_only)
		$access
		http_access allow CONNECT
		http_access deny all
		$(squid_local "$d" "wsdial-interop-$name")
	EOF
	# AUTH and ACCESS come indented from their callers.
	sed -i 's/^[[:space:]]*//' "$d/squid.conf"
	chown -R proxy:proxy "$d"
}

start_auth_peers() {
	local d=$tmp/auth/kdc t0 master jane_pass bob_pass carol_pass
	t0=$(date +%s%N)
	mkdir -p "$d"
	chmod 711 "$tmp/auth" "$d"
	master=$(auth_random)
	jane_pass=$(auth_random)
	bob_pass=$(auth_random)
	carol_pass=$(auth_random)
	conf_kdc "$d"
	export KRB5_CONFIG=$d/krb5.conf KRB5_KDC_PROFILE=$d/kdc.conf
	kdb5_util create -s -r "$KRB5_REALM" -P "$master" >"$tmp/logs/kdb5_util.log" 2>&1 ||
		die "kdb5_util create failed; see $tmp/logs/kdb5_util.log"
	{
		kadmin.local -q "addprinc -pw $jane_pass jane"
		kadmin.local -q "addprinc -pw $bob_pass bob"
		kadmin.local -q "addprinc -randkey HTTP/localhost"
		kadmin.local -q "ktadd -k $d/http.keytab HTTP/localhost"
	} >"$tmp/logs/kadmin.log" 2>&1 || die "kadmin.local failed; see $tmp/logs/kadmin.log"
	chown proxy:proxy "$d/http.keytab"
	start kdc krb5kdc -n -r "$KRB5_REALM" -P "$d/kdc.pid"
	await kdc $P_KDC
	local t_kdc=$((($(date +%s%N) - t0) / 1000000))

	# The caches the tests use, made as a user makes them.
	printf '%s\n' "$jane_pass" | KRB5CCNAME=FILE:$d/jane.ccache kinit jane >/dev/null ||
		die "kinit jane failed; see $d/kdc.log"
	printf '%s\n' "$jane_pass" | KRB5CCNAME=FILE:$d/expired.ccache kinit -l 1s jane >/dev/null ||
		die "kinit -l 1s jane failed"
	printf '%s\n' "$bob_pass" | KRB5CCNAME=FILE:$d/bob.ccache kinit bob >/dev/null ||
		die "kinit bob failed"

	local negotiate="auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -k $d/http.keytab -s HTTP/localhost@$KRB5_REALM
		auth_param negotiate children 2 startup=1 idle=1
		auth_param negotiate keep_alive on"
	local ntlm="auth_param ntlm program /usr/lib/squid/ntlm_fake_auth
		auth_param ntlm children 2 startup=1 idle=1
		auth_param ntlm keep_alive on"

	# Negotiate: jane passes, bob's ticket is good but he is not on the list.
	printf 'jane@%s\n' "$KRB5_REALM" >"$tmp/auth/negotiate-users"
	conf_auth_squid negotiate $P_SQUID_NEGOTIATE "$negotiate" \
		"acl allowed proxy_auth \"$tmp/auth/negotiate-users\"
		http_access deny !allowed"

	# NTLM: whoever completes the exchange.
	conf_auth_squid ntlm $P_SQUID_NTLM "$ntlm" \
		"acl authenticated proxy_auth REQUIRED
		http_access deny !authenticated"

	# All three, weakest first: the client must pick the strongest.
	printf 'WSDIAL\\carol:%s\n' "$(openssl passwd -apr1 "$carol_pass")" >"$tmp/auth/basic-passwd"
	printf 'jane@%s\njane\nWSDIAL\\carol\n' "$KRB5_REALM" >"$tmp/auth/anyauth-users"
	chown proxy:proxy "$tmp/auth/basic-passwd"
	conf_auth_squid anyauth $P_SQUID_ANYAUTH "auth_param basic program /usr/lib/squid/basic_ncsa_auth $tmp/auth/basic-passwd
		auth_param basic children 2 startup=1 idle=1
		auth_param basic realm wsdial-interop-anyauth
		auth_param basic casesensitive on
		${ntlm/ntlm_fake_auth/ntlm_fake_auth -S}
		$negotiate" \
		"acl allowed proxy_auth \"$tmp/auth/anyauth-users\"
		http_access deny !allowed"
	chmod 644 "$tmp/auth/negotiate-users" "$tmp/auth/anyauth-users"

	local name
	for name in negotiate ntlm anyauth; do
		start "squid-$name" squid -N -n "wsdial$name" -f "$tmp/auth/$name/squid.conf"
	done
	await squid-negotiate $P_SQUID_NEGOTIATE
	await squid-ntlm $P_SQUID_NTLM
	await squid-anyauth $P_SQUID_ANYAUTH
	unset KRB5_KDC_PROFILE
	say "auth peers up in $((($(date +%s%N) - t0) / 1000000)) ms (the KDC, set up and listening, in $t_kdc ms)"

	PEER_ENV+=("export WSDIAL_INTEROP_SQUID_NEGOTIATE=127.0.0.1:$P_SQUID_NEGOTIATE")
	PEER_ENV+=("export WSDIAL_INTEROP_SQUID_NTLM=127.0.0.1:$P_SQUID_NTLM")
	PEER_ENV+=("export WSDIAL_INTEROP_SQUID_ANYAUTH=127.0.0.1:$P_SQUID_ANYAUTH")
	PEER_ENV+=("export WSDIAL_INTEROP_KDC=127.0.0.1:$P_KDC")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_CONFIG=$d/krb5.conf")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_KEYTAB=$d/http.keytab")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_REALM=$KRB5_REALM")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_PASS=$jane_pass")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_CCACHE=$d/jane.ccache")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_CCACHE_EXPIRED=$d/expired.ccache")
	PEER_ENV+=("export WSDIAL_INTEROP_KRB5_CCACHE_REFUSED=$d/bob.ccache")
	PEER_ENV+=("export WSDIAL_INTEROP_BASIC_PASS=$carol_pass")
}
