package coroconf

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Env is what totem derivation needs from the host. Tests inject fixed
// values so local node discovery is deterministic.
type Env struct {
	// Hostname is the uname nodename.
	Hostname string
	// InterfaceAddrs are the local interface addresses in getifaddrs order.
	InterfaceAddrs []netip.Addr
	// LookupHost resolves a name (or literal) like getaddrinfo, in order.
	LookupHost func(name string) ([]netip.Addr, error)
	// LookupAddr reverse-resolves an address to its host name ("" if none).
	LookupAddr func(addr netip.Addr) string
	// ReadKey reads at most maxKeyLen bytes of a key file (the path as
	// configured); errors are OS errors.
	ReadKey func(path string) ([]byte, error)
}

// SystemEnv returns the Env of this machine; relative key file paths are
// read relative to stateDir, because Corosync chdirs there first.
func SystemEnv(stateDir string) Env {
	host, _ := os.Hostname()
	var addrs []netip.Addr
	if ifaddrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaddrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ad, ok := netip.AddrFromSlice(ipn.IP); ok {
					addrs = append(addrs, ad.Unmap())
				}
			}
		}
	}
	return Env{
		Hostname:       host,
		InterfaceAddrs: addrs,
		LookupHost:     systemLookupHost,
		LookupAddr:     systemLookupAddr,
		ReadKey:        KeyReader(stateDir),
	}
}

func systemLookupHost(name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	return net.DefaultResolver.LookupNetIP(context.Background(), "ip", name)
}

func systemLookupAddr(a netip.Addr) string {
	names, err := net.DefaultResolver.LookupAddr(context.Background(), a.String())
	if err != nil || len(names) == 0 {
		return ""
	}
	return strings.TrimSuffix(names[0], ".")
}

// KeyReader returns a key file reader that resolves relative paths against
// dir and, like Corosync, takes what one read of maxKeyLen bytes returns.
func KeyReader(dir string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		buf := make([]byte, maxKeyLen)
		n, err := f.Read(buf)
		if err != nil && err != io.EOF {
			return nil, err
		}
		return buf[:n], nil
	}
}

// StateDir returns system.state_dir or Corosync's default.
func StateDir(m Map) string {
	if s, ok := m.str("system.state_dir"); ok {
		return s
	}
	return "/var/lib/corosync"
}
