// Package interop runs wsdial against real third-party proxies and WebSocket
// servers: squid, tinyproxy, dante, microsocks, nginx, python3-websockets and
// the npm ws package. Its tests need those peers listening on loopback, which
// run.sh installs, configures and starts; without them every test skips.
// README.md says how to run the suite by hand.
package interop
