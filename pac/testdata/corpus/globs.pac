// Routing by URL and host patterns, the way many PAC files are written:
// shExpMatch over the host and over the whole URL.
function FindProxyForURL(url, host) {
    if (shExpMatch(host, "*.internal.example") || shExpMatch(host, "internal.example")) {
        return "DIRECT";
    }
    if (shExpMatch(host, "build-??.ci.example")) {
        return "PROXY ci-proxy.example:3128";
    }
    if (shExpMatch(host, "db?.example") || shExpMatch(host, "cache*.example")) {
        return "SOCKS db-socks.example:1080";
    }
    if (shExpMatch(url, "http://*/api/v?/*")) {
        return "PROXY api-proxy.example:8080";
    }
    if (shExpMatch(url, "http://*.example.com/*.jpg") || shExpMatch(url, "http://*.example.com/*.png")) {
        return "PROXY images.example:8080; DIRECT";
    }
    if (shExpMatch(url, "https://*")) {
        return "HTTPS secure-proxy.example:443; PROXY fallback.example:8080";
    }
    if (shExpMatch(url, "*://*.example.org:*/*")) {
        return "PROXY ports.example:8080";
    }
    if (shExpMatch(host, "*.*.*.*.example")) {
        return "PROXY deep.example:8080";
    }
    return "PROXY default.example:8080";
}
