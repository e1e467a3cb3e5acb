// Package interop runs wsdial against real third-party proxies and WebSocket
// servers: squid, tinyproxy, dante, microsocks, nginx, python3-websockets,
// the npm ws package, and, for HTTP/2, hypercorn, nghttpx and HAProxy. Its tests need those peers listening on loopback, which
// run.sh installs, configures and starts; without them every test skips.
// README.md says how to run the suite by hand.
package interop
