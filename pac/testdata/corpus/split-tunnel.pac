// VPN split tunnel: company networks through the tunnel's proxy, the
// collaboration SaaS straight out of the local breakout, the rest through
// the cloud security proxy. Names are resolved to decide, since several
// internal services live under public domains.
function FindProxyForURL(url, host) {
    var tunnel = "PROXY vpn-proxy.corp.example:8080";
    var cloud = "PROXY gateway.cloudsec.example:80; PROXY gateway2.cloudsec.example:80";

    if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example")) {
        return "DIRECT";
    }

    // Collaboration traffic breaks out locally, by name or by address.
    if (dnsDomainIs(host, ".zoom.example") || dnsDomainIs(host, ".teams.example")) {
        return "DIRECT";
    }
    if (isInNet(host, "198.51.100.0", "255.255.255.0")) {
        return "DIRECT";
    }

    // Hosts under public names that resolve into the tunnel's networks.
    var ip = dnsResolve(host);
    if (ip == null) {
        // Not resolvable from here: let the proxy resolve it.
        return cloud + "; DIRECT";
    }
    if (isInNet(ip, "10.0.0.0", "255.0.0.0") ||
        isInNet(ip, "172.16.0.0", "255.240.0.0")) {
        return tunnel;
    }

    // Clients on the guest Wi-Fi never go direct.
    if (isInNet(myIpAddress(), "192.168.77.0", "255.255.255.0")) {
        return cloud;
    }
    return cloud + "; DIRECT";
}
