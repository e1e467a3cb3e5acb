#!/usr/bin/env bash
# The PAC differential test: installs the two references, pacparser
# (Debian's python3-pacparser) and the npm pac-resolver package (into
# difftest/node, from its package-lock.json), checks that both load, and
# runs TestDifferential, which asks them and this package the same questions
# (testdata/corpus) and compares the answers.
#
# Usage: bash pac/difftest/run.sh [go test flags...]
# A reference that cannot be installed or loaded is an error: the test
# never runs without one of them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pac=$(dirname "$here")

say() { printf '== pac difftest: %s\n' "$*"; }
die() { printf 'pac difftest: error: %s\n' "$*" >&2; exit 1; }

if [ "$(dpkg-query -W -f='${db:Status-Status}' python3-pacparser 2>/dev/null)" != installed ]; then
	[ "$(id -u)" = 0 ] || die "python3-pacparser is missing and installing it needs root: apt-get install python3-pacparser"
	say "installing python3-pacparser from Debian"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pacparser >/dev/null ||
		die "apt-get install python3-pacparser failed"
fi
/usr/bin/python3 -W ignore -c 'import pacparser' || die "python3-pacparser is installed but /usr/bin/python3 cannot import it"

command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
if ! (cd "$here/node" && node -e 'import("pac-resolver").then(() => import("quickjs-wasi"))' 2>/dev/null); then
	say "installing pac-resolver into difftest/node"
	(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi
(cd "$here/node" && node -e 'import("pac-resolver").then(() => import("quickjs-wasi"))') ||
	die "pac-resolver is installed but node cannot load it"

say "pacparser $(dpkg-query -W -f='${Version}' python3-pacparser), pac-resolver $(cd "$here/node" && node -p 'require("./node_modules/pac-resolver/package.json").version')"
cd "$pac"
go vet -tags difftest .
go test -tags difftest -run '^TestDifferential$' -count=1 -v "$@" .
