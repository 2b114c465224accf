package coroconf

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseHostEnv builds an Env from a host description, so a configuration
// can be checked as another host would see it (and tests are
// deterministic). Lines: "hostname NAME", "addr ADDRESS" (local interface
// addresses, in order) and "host NAME ADDRESS" (name resolution, like
// /etc/hosts; reverse lookups take the first name of an address). Names
// not listed do not resolve. Key files are read from the real file system.
func ParseHostEnv(data []byte, keyDir string) (Env, error) {
	env := Env{ReadKey: KeyReader(keyDir)}
	type host struct {
		name string
		addr netip.Addr
	}
	var hosts []host
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(err error) (Env, error) { return Env{}, fmt.Errorf("host env line %d: %w", i+1, err) }
		switch {
		case len(f) == 2 && f[0] == "hostname":
			env.Hostname = f[1]
		case len(f) == 2 && f[0] == "addr":
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				return bad(err)
			}
			env.InterfaceAddrs = append(env.InterfaceAddrs, a)
		case len(f) == 3 && f[0] == "host":
			a, err := netip.ParseAddr(f[2])
			if err != nil {
				return bad(err)
			}
			hosts = append(hosts, host{f[1], a})
		default:
			return bad(fmt.Errorf("unknown entry %q", line))
		}
	}
	env.LookupHost = func(name string) ([]netip.Addr, error) {
		if a, err := netip.ParseAddr(name); err == nil {
			return []netip.Addr{a}, nil
		}
		var out []netip.Addr
		for _, h := range hosts {
			if h.name == name {
				out = append(out, h.addr)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: host not found", name)
		}
		return out, nil
	}
	env.LookupAddr = func(a netip.Addr) string {
		for _, h := range hosts {
			if h.addr == a {
				return h.name
			}
		}
		return ""
	}
	return env, nil
}
