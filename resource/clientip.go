package resource

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// parseTrustedProxies reads the trusted_proxies setting: CIDRs, single
// addresses, or "loopback", separated by spaces or commas.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var items []string
	for _, v := range list {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				items = append(items, part)
			}
		}
	}
	for _, v := range items {
		switch {
		case strings.EqualFold(v, "loopback"):
			out = append(out, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		case strings.Contains(v, "/"):
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("config: setting trusted_proxies: %q is not a CIDR", v)
			}
			out = append(out, p.Masked())
		default:
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, fmt.Errorf("config: setting trusted_proxies: %q is neither an address, a CIDR nor \"loopback\"", v)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}

// trusted tells whether addr is one of the trusted proxies.
func trusted(proxies []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientIP is the engine's client address (Request.RealIP: login
// throttling, per-address limits, logs). Forwarding headers are believed
// only when the TCP peer is a trusted proxy; then the client is the first
// address, walking the header from the right, that is not a trusted
// proxy. Anyone else could write any address in them.
func (a *App) clientIP(req *http.Request) string {
	peer, fromProxy := a.peer(req)
	if !fromProxy {
		return peer
	}
	proxies := a.opts.trustedProxies
	hops := forwardedHops(req.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		ha, err := netip.ParseAddr(hops[i])
		if err != nil {
			// Garbage in a hop a trusted proxy appended from its client:
			// nothing further left can be believed.
			return peer
		}
		if !trusted(proxies, ha) {
			return ha.Unmap().String()
		}
		peer = ha.Unmap().String()
	}
	return peer
}

// peer is the request's TCP peer address, and whether it is a trusted
// proxy (whose forwarding headers are believed).
func (a *App) peer(req *http.Request) (addr string, trustedProxy bool) {
	addr = req.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if len(a.opts.trustedProxies) == 0 {
		return addr, false
	}
	pa, err := netip.ParseAddr(addr)
	return addr, err == nil && trusted(a.opts.trustedProxies, pa)
}

// forwardedHops returns the client addresses a chain of proxies reported,
// leftmost first: X-Forwarded-For, else Forwarded's for= values, else
// X-Real-IP.
func forwardedHops(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, v := range strings.Split(line, ",") {
			hops = append(hops, cleanHop(v))
		}
	}
	if len(hops) > 0 {
		return hops
	}
	for _, v := range forwardedParams(h.Values("Forwarded"), "for") {
		hops = append(hops, cleanHop(v))
	}
	if len(hops) > 0 {
		return hops
	}
	if v := h.Get("X-Real-IP"); v != "" {
		return []string{cleanHop(v)}
	}
	return nil
}

// cleanHop strips quotes, brackets and a port from one reported address
// ("[2001:db8::1]:4711", "\"192.0.2.1:80\"").
func cleanHop(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if host, _, err := net.SplitHostPort(v); err == nil {
		return host
	}
	return strings.Trim(v, "[]")
}

// forwardingHeader tells the headers a proxy writes about its client
// (address, scheme, host). A batch sub-request may not set them: they
// would be believed as the trusted proxy's.
func forwardingHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-Ip":
		return true
	}
	return false
}

// forwardedBase is the scheme and host a trusted proxy reports its client
// used (X-Forwarded-Proto and X-Forwarded-Host, else the proto= and host=
// of Forwarded), for the URLs the server builds behind a proxy that ends
// TLS or serves another name, when http_scheme and http_host are not
// set. Each is the last value, the one the nearest proxy wrote (a client
// may have put its own further left), and only a well-formed one: a
// scheme is http or https, a host a name or address with an optional
// port. Both are empty when the peer is not a trusted proxy.
func (a *App) forwardedBase(req *http.Request) (scheme, host string) {
	if _, fromProxy := a.peer(req); !fromProxy {
		return "", ""
	}
	scheme = lastValue(req.Header.Values("X-Forwarded-Proto"))
	host = lastValue(req.Header.Values("X-Forwarded-Host"))
	if scheme == "" {
		scheme = last(forwardedParams(req.Header.Values("Forwarded"), "proto"))
	}
	if host == "" {
		host = last(forwardedParams(req.Header.Values("Forwarded"), "host"))
	}
	if scheme = strings.ToLower(scheme); scheme != "http" && scheme != "https" {
		scheme = ""
	}
	if !wellFormedHost(host) {
		host = ""
	}
	return scheme, host
}

// lastValue is the last of the comma-separated values of a header's
// lines.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	line := lines[len(lines)-1]
	if i := strings.LastIndexByte(line, ','); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimSpace(line)
}

// forwardedParams returns the values of key (for, proto, host) in the
// elements of Forwarded (RFC 7239), leftmost first, without quotes.
func forwardedParams(lines []string, key string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, key) {
					out = append(out, strings.Trim(strings.TrimSpace(v), `"`))
				}
			}
		}
	}
	return out
}

// last is the last of values, or "".
func last(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[len(values)-1]
}

// wellFormedHost accepts a host name, an IPv4 address or a bracketed IPv6
// address, with an optional port: nothing that could change a URL's
// meaning (no "/", "@", "?", "#", space or control character).
func wellFormedHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
	}
	if port != "" || strings.HasSuffix(h, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
