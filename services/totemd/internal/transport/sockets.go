package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketBuffer is corosync 3.x's SO_RCVBUF/SO_SNDBUF: 16 maximal frames.
const socketBuffer = 16 * MaxDatagram

// listenUDP binds a UDP socket with SO_REUSEADDR and large buffers.
func listenUDP(ctx context.Context, addr netip.AddrPort) (*net.UDPConn, error) {
	return listenUDPWith(ctx, addr, nil)
}

func listenUDPWith(ctx context.Context, addr netip.AddrPort, extra func(fd int) error) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			// Buffer sizes are best effort: the kernel caps them at rmem_max.
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
			if extra != nil {
				serr = extra(s)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	network := "udp4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		network = "udp6"
	}
	pc, err := lc.ListenPacket(ctx, network, addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// openUDP builds corosync's multicast layout: a group socket on
// mcastaddr:port, a send socket on local:port-1 (TTL, loop off, outgoing
// interface = local address) and a token socket on local:port.
func (t *Transport) openUDP(ctx context.Context) error {
	if !t.cfg.Mcast.IsValid() || !t.cfg.Mcast.IsMulticast() {
		return fmt.Errorf("transport udp: %v is not a multicast address", t.cfg.Mcast)
	}
	if t.cfg.Mcast.Is4() != t.cfg.Local.Is4() {
		return fmt.Errorf("transport udp: multicast address %v and local address %v differ in family", t.cfg.Mcast, t.cfg.Local)
	}
	ifi, err := interfaceOf(t.cfg.Local)
	if err != nil {
		return fmt.Errorf("transport udp: %w", err)
	}
	t.group = netip.AddrPortFrom(t.cfg.Mcast, t.cfg.Port)
	v4 := t.cfg.Local.Is4()
	t.mrecv, err = listenUDPWith(ctx, t.group, func(fd int) error {
		if v4 {
			mreq := &unix.IPMreqn{Multiaddr: t.cfg.Mcast.As4(), Address: t.cfg.Local.As4(), Ifindex: int32(ifi.Index)}
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq)
		}
		mreq := &unix.IPv6Mreq{Multiaddr: t.cfg.Mcast.As16(), Interface: uint32(ifi.Index)}
		return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
	})
	if err != nil {
		return fmt.Errorf("transport udp: bind group socket %s: %w", t.group, err)
	}
	t.send, err = listenUDPWith(ctx, netip.AddrPortFrom(t.cfg.Local, t.cfg.Port-1), func(fd int) error {
		if v4 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, t.cfg.TTL); err != nil {
				return err
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
				return err
			}
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF,
				&unix.IPMreqn{Address: t.cfg.Local.As4(), Ifindex: int32(ifi.Index)})
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, t.cfg.TTL); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
			return err
		}
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index)
	})
	if err != nil {
		return fmt.Errorf("transport udp: bind send socket: %w", err)
	}
	t.token, err = listenUDP(ctx, netip.AddrPortFrom(t.cfg.Local, t.cfg.Port))
	if err != nil {
		return fmt.Errorf("transport udp: bind token socket: %w", err)
	}
	return nil
}

// interfaceOf finds the interface carrying addr.
func interfaceOf(addr netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(p.IP); ok && ip.Unmap() == addr.Unmap() {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no local interface has address %v", addr)
}
