// Proxy auto-configuration for corp.example
// Maintained by the network team. Questions: #netops
//
// Order of rules:
//   1. plain host names, loopback and link-local: direct
//   2. internal domains and networks: direct
//   3. partner extranets: the extranet proxy
//   4. software updates and large downloads: the bulk proxy
//   5. blocked categories: the sinkhole
//   6. everything else: site proxies by client subnet, with failover

var PROXY_DC1 = "PROXY proxy-dc1.corp.example:8080";
var PROXY_DC2 = "PROXY proxy-dc2.corp.example:8080";
var PROXY_BRANCH = "PROXY proxy-branch.corp.example:3128";
var PROXY_BULK = "PROXY bulk.corp.example:8081";
var PROXY_EXTRANET = "HTTPS extranet-gw.corp.example:443";
var SOCKS_LAB = "SOCKS5 socks.lab.corp.example:1080";
var SINKHOLE = "PROXY 127.0.0.1:9";
var DIRECT = "DIRECT";

var internalDomains = [
    ".corp.example",
    ".corp.example.net",
    ".intra.example",
    ".svc.cluster.local",
    ".ad.corp.example",
    ".mgmt.example"
];

var internalHosts = [
    "intranet",
    "wiki",
    "jira",
    "printer",
    "timesheet"
];

var directExternal = [
    "*.office365.example",
    "*.sharepoint.example",
    "login.microsoftonline.example",
    "*.teams.example",
    "*.zoom.example",
    "*.webex.example"
];

var partnerDomains = [
    ".partner-a.example",
    ".partner-b.example",
    ".supplier.example"
];

var bulkHosts = [
    "*.windowsupdate.example",
    "download.*.example",
    "*.deb.example",
    "*.cdn.example",
    "mirror?.example.org"
];

var blocked = [
    "*.ads.example",
    "*.tracker.example",
    "*doubleclick*",
    "malware.example"
];

// Networks reached without a proxy. [address, mask]
var internalNets = [
    ["10.0.0.0", "255.0.0.0"],
    ["172.16.0.0", "255.240.0.0"],
    ["192.168.0.0", "255.255.0.0"],
    ["100.64.0.0", "255.192.0.0"],
    ["127.0.0.0", "255.0.0.0"],
    ["169.254.0.0", "255.255.0.0"]
];

function matchesAnyDomain(host, list) {
    for (var i = 0; i < list.length; i++) {
        if (dnsDomainIs(host, list[i])) {
            return true;
        }
    }
    return false;
}

function matchesAnyGlob(s, list) {
    for (var i = 0; i < list.length; i++) {
        if (shExpMatch(s, list[i])) {
            return true;
        }
    }
    return false;
}

function isInternalHost(host) {
    for (var i = 0; i < internalHosts.length; i++) {
        if (localHostOrDomainIs(host, internalHosts[i] + ".corp.example")) {
            return true;
        }
    }
    return false;
}

function isLiteralIPv4(host) {
    return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function inInternalNet(addr) {
    for (var i = 0; i < internalNets.length; i++) {
        if (isInNet(addr, internalNets[i][0], internalNets[i][1])) {
            return true;
        }
    }
    return false;
}

// The client's site decides which data centre's proxy comes first.
function siteProxies() {
    var me = myIpAddress();
    if (isInNet(me, "10.20.0.0", "255.255.0.0")) {
        // Head office: DC1 first.
        return PROXY_DC1 + "; " + PROXY_DC2 + "; " + DIRECT;
    }
    if (isInNet(me, "10.40.0.0", "255.255.0.0")) {
        // West coast: DC2 first.
        return PROXY_DC2 + "; " + PROXY_DC1 + "; " + DIRECT;
    }
    if (isInNet(me, "10.60.0.0", "255.252.0.0")) {
        // Branches have a local cache.
        return PROXY_BRANCH + "; " + PROXY_DC1;
    }
    // Off network (VPN down): try the data centres, never direct.
    return PROXY_DC1 + "; " + PROXY_DC2;
}

function FindProxyForURL(url, host) {
    host = host.toLowerCase();

    // 1. Plain names and loopback.
    if (isPlainHostName(host)) {
        return DIRECT;
    }
    if (host == "localhost" || shExpMatch(host, "*.localhost")) {
        return DIRECT;
    }

    // 2. Internal names and networks.
    if (matchesAnyDomain(host, internalDomains) || isInternalHost(host)) {
        if (dnsDomainIs(host, ".lab.corp.example")) {
            return SOCKS_LAB;
        }
        return DIRECT;
    }
    if (isLiteralIPv4(host)) {
        if (inInternalNet(host)) {
            return DIRECT;
        }
    } else if (isResolvable(host)) {
        var addr = dnsResolve(host);
        if (inInternalNet(addr)) {
            return DIRECT;
        }
    }

    // SaaS that must not go through the proxies.
    if (matchesAnyGlob(host, directExternal)) {
        return DIRECT;
    }

    // 3. Partner extranets.
    if (matchesAnyDomain(host, partnerDomains)) {
        return PROXY_EXTRANET + "; " + PROXY_DC1;
    }

    // 4. Bulk downloads, by host or by path (http only: https paths are hidden).
    if (matchesAnyGlob(host, bulkHosts)) {
        return PROXY_BULK + "; " + siteProxies();
    }
    if (url.substring(0, 5) == "http:" && shExpMatch(url, "*.iso") ) {
        return PROXY_BULK;
    }
    if (url.substring(0, 5) == "http:" && shExpMatch(url, "*/downloads/*")) {
        return PROXY_BULK;
    }

    // 5. Blocked.
    if (matchesAnyGlob(host, blocked)) {
        return SINKHOLE;
    }

    // FTP keeps going through DC1 alone.
    if (url.substring(0, 4) == "ftp:") {
        return PROXY_DC1;
    }

    // 6. The rest.
    if (dnsDomainLevels(host) > 6) {
        // Very deep names are usually generated; keep them on DC2.
        return PROXY_DC2;
    }
    return siteProxies();
}
