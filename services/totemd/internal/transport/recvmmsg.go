package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvBatch is how many datagrams one recvmmsg(2) may return: a token
// visit's frames (max_messages, 17 by default) and the token arrive with
// a system call or two instead of one each, and go to the node goroutine
// as one channel hand-off.
const recvBatch = 16

// batchReader holds a receive loop's recvmmsg scratch: one buffer of
// MaxDatagram+1 bytes per slot (a longer datagram shows as MaxDatagram+1
// and is dropped, as a single read's would be).
type batchReader struct {
	bufs  [][]byte
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte            // a UDP_GRO control message's room per slot
	zones map[uint32]string // interface index → name, for scoped IPv6 sources
	rc    syscall.RawConn   // the socket's, taken at the first read
}

func newBatchReader() *batchReader {
	r := &batchReader{
		bufs:  make([][]byte, recvBatch),
		hdrs:  make([]mmsghdr, recvBatch),
		iovs:  make([]unix.Iovec, recvBatch),
		names: make([]unix.RawSockaddrInet6, recvBatch),
		ctrl:  make([]byte, recvBatch*groCmsgSpace),
	}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, MaxDatagram+1)
	}
	return r
}

// read waits for at least one datagram on conn (always the same one) and returns how many
// recvmmsg took (their lengths in hdrs[i].len, sources in names[i]).
func (r *batchReader) read(conn *net.UDPConn) (int, error) {
	for i := range r.hdrs {
		r.iovs[i] = unix.Iovec{Base: &r.bufs[i][0]}
		r.iovs[i].SetLen(len(r.bufs[i]))
		r.hdrs[i] = mmsghdr{}
		h := &r.hdrs[i].hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		c := r.ctrl[i*groCmsgSpace : (i+1)*groCmsgSpace]
		h.Control = &c[0]
		h.SetControllen(len(c))
	}
	if r.rc == nil {
		rc, err := conn.SyscallConn()
		if err != nil {
			return 0, err
		}
		r.rc = rc
	}
	got := 0
	var serr error
	rerr := r.rc.Read(func(fd uintptr) bool {
		for {
			// Raw, as sendmmsg (batchWriter.sendmmsg says why).
			n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
			switch errno {
			case 0:
				got = int(n)
				return true
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait until readable
			default:
				serr = errno
				return true
			}
		}
	})
	if rerr != nil {
		return 0, rerr
	}
	if serr != nil {
		return 0, serr
	}
	if got == 0 {
		return 0, errors.New("recvmmsg returned no datagram")
	}
	return got, nil
}

// from decodes slot i's source address.
func (r *batchReader) from(i int) netip.AddrPort {
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), binary.BigEndian.Uint16(p[:]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(r.zone(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(p[:]))
	}
	return netip.AddrPort{}
}

// zone names an interface index as the net package does for a source
// address: the interface's name, or the number if there is none.
func (r *batchReader) zone(idx uint32) string {
	if z, ok := r.zones[idx]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(idx), 10)
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		z = ifi.Name
	}
	if r.zones == nil {
		r.zones = map[uint32]string{}
	}
	r.zones[idx] = z
	return z
}

// segment is slot i's UDP_GRO segment size: the size of each datagram
// the kernel coalesced into the slot (the last may be shorter); 0 when
// the slot holds one datagram as sent.
func (r *batchReader) segment(i int) int {
	n := min(int(r.hdrs[i].hdr.Controllen), groCmsgSpace)
	if n == 0 {
		return 0 // the common case: no control message
	}
	cms, err := unix.ParseSocketControlMessage(r.ctrl[i*groCmsgSpace : i*groCmsgSpace+n])
	if err != nil {
		return 0
	}
	for _, cm := range cms {
		if cm.Header.Level != unix.SOL_UDP || cm.Header.Type != unix.UDP_GRO {
			continue
		}
		switch d := cm.Data; {
		case len(d) >= 4:
			return int(*(*int32)(unsafe.Pointer(&d[0])))
		case len(d) >= 2:
			return int(*(*uint16)(unsafe.Pointer(&d[0])))
		}
	}
	return 0
}
