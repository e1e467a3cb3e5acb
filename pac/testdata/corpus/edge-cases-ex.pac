// Corners of Microsoft's IPv6 helpers (pacparser is the only reference
// that has them).
function FindProxyForURL(url, host) {
    var c = url.split("/")[3];
    var r;
    if (c == "ex-list") {
        r = isInNetEx("fd00:20::7;10.20.3.7", "10.20.0.0/16");
    } else if (c == "ex-mixed-family") {
        r = isInNetEx("10.20.3.7", "fd00::/8");
    } else if (c == "ex-host-name") {
        r = isInNetEx("git.corp.example", "10.20.0.0/16");
    } else if (c == "ex-host-name-short-prefix") {
        r = isInNetEx("git.corp.example", "10.0.0.0/8");
    } else if (c == "ex-v4") {
        r = isInNetEx("10.20.3.7", "10.20.0.0/16");
    } else if (c == "ex-v6") {
        r = isInNetEx("fd00:20::7", "fd00:20::/32");
    } else if (c == "ex-v6-short-prefix") {
        r = isInNetEx("fd00:20::7", "fd00::/12");
    } else if (c == "ex-resolvable") {
        r = isResolvableEx("v6only.corp.example");
    } else if (c == "ex-unresolvable") {
        r = isResolvableEx("nowhere.corp.example");
    } else if (c == "ex-my-address") {
        r = myIpAddressEx();
    } else if (c == "convert") {
        r = convert_addr("255.255.255.0");
    } else if (c == "convert-partial") {
        r = convert_addr("10.1");
    } else {
        r = "unknown case " + c;
    }
    return c + "=" + r;
}
