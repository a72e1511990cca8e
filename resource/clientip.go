package resource

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
	peer := req.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	proxies := a.opts.trustedProxies
	if len(proxies) == 0 {
		return peer
	}
	pa, err := netip.ParseAddr(peer)
	if err != nil || !trusted(proxies, pa) {
		return peer
	}
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
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, cleanHop(v))
				}
			}
		}
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
