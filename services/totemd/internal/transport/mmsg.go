package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Out is one frame for SendBatch: To 0 multicasts it to every member (as
// Mcast), otherwise it goes to that node (as SendToken).
type Out struct {
	To    uint32
	Frame []byte
}

// dgram is one datagram to write: sealed for its destination when crypto
// is on.
type dgram struct {
	conn *net.UDPConn
	dst  netip.AddrPort
	data []byte
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batchWriter holds sendmmsg's scratch arrays between batches. Only the
// node goroutine sends, so one is enough.
type batchWriter struct {
	dgrams []dgram
	run    [][]byte // SendBatch's current run of udpu multicasts
	sealed [][]byte // its frames sealed for every member
	arena  []byte   // the batch's sealed datagrams, side by side
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // large enough for either family
	segs   []int                   // datagrams in each header's gsoGroup
	cmsgs  []byte                  // a UDP_SEGMENT control message per header
	// noGSO: segmented sends are off, by configuration or because the
	// kernel or the route refused one (then logged once).
	noGSO bool
}

// SendBatch sends frames in order, as Mcast and SendToken would one by
// one, but each run of datagrams that leave by the same socket goes out
// with one sendmmsg(2): a token visit's frames to every member and the
// token cost one system call instead of one per datagram and member. The
// first error is returned after everything else was sent.
func (t *Transport) SendBatch(outs []Out) error {
	w := &t.bw
	ds := w.dgrams[:0]
	arena := w.arena[:0]
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	// seal seals frame for node to (0: every member) into the batch's
	// arena (the kernel has copied every datagram by the time SendBatch
	// returns; an arena that grows leaves the datagrams already in it
	// where they are); nil when sealing failed.
	seal := func(frame []byte, to uint32) []byte {
		out, grown, err := t.seal(arena, frame, to)
		arena = grown
		keep(err)
		return out
	}
	add := func(conn *net.UDPConn, frame []byte, to uint32, dst netip.AddrPort) {
		if t.cfg.LocalLoop && dst == t.self {
			t.loopLocal(frame, true)
			return
		}
		if out := seal(frame, to); out != nil {
			ds = append(ds, dgram{conn: conn, dst: dst, data: out})
		}
	}
	ps := t.peers.Load()
	// A run of udpu multicasts goes out member by member (all of the
	// run's frames to one member, then to the next) rather than frame by
	// frame: what each member receives, and its order, is the same, and
	// a member's frames then sit side by side for the kernel to take as
	// one segmented send (gsoGroup). The run ends before a token, so a
	// token still follows every frame sent before it, to every member.
	// Each frame of the run is sealed once, for every member (destination
	// 0, as a udp multicast is), and that datagram goes to each: one seal
	// per frame, not one per frame and member (libs/nsscrypto's package
	// doc, "Replay protection").
	run, sealed := w.run[:0], w.sealed[:0]
	flushRun := func() {
		for _, f := range run {
			sealed = append(sealed, seal(f, 0))
		}
		for _, p := range ps.list {
			dst := ps.addr[p.ID]
			for i, f := range run {
				switch {
				case t.cfg.LocalLoop && dst == t.self:
					t.loopLocal(f, true)
				case sealed[i] != nil:
					ds = append(ds, dgram{conn: t.send, dst: dst, data: sealed[i]})
				}
			}
		}
		clear(run)
		clear(sealed)
		run, sealed = run[:0], sealed[:0]
	}
	for _, o := range outs {
		if o.To == 0 && t.cfg.Mode == UDPU {
			run = append(run, o.Frame)
			continue
		}
		flushRun()
		switch {
		case o.To != 0:
			dst, ok := ps.addr[o.To]
			if !ok {
				keep(fmt.Errorf("transport: no address for node %d", o.To))
				continue
			}
			conn := t.token
			if t.cfg.Mode == UDP {
				conn = t.send
			}
			add(conn, o.Frame, o.To, dst)
		case t.cfg.Mode == UDP:
			add(t.send, o.Frame, 0, t.group)
			if t.cfg.LocalLoop {
				t.loopLocal(o.Frame, false)
			} else {
				t.deliverLocal(o.Frame)
			}
		}
	}
	flushRun()
	w.run, w.sealed = run, sealed
	for i := 0; i < len(ds); {
		j := i + 1
		for j < len(ds) && ds[j].conn == ds[i].conn {
			j++
		}
		keep(t.writeRun(ds[i:j]))
		i = j
	}
	clear(ds)
	w.dgrams = ds[:0]
	w.arena = arena[:0]
	return first
}

// writeRun writes datagrams that share a socket: sendmmsg for as many as
// it takes, a plain write for one it refuses (counted, then the rest go on).
func (t *Transport) writeRun(ds []dgram) error {
	var first error
	for len(ds) > 0 {
		gso := !t.bw.noGSO
		n, err := t.bw.sendmmsg(ds)
		if gso && t.bw.noGSO {
			t.log.Warn("the kernel refused a segmented send (UDP_SEGMENT); sending datagram by datagram", "error", err)
		}
		t.sent.Add(uint64(n))
		for _, d := range ds[:n] {
			t.sentBytes.Add(uint64(len(d.data)))
		}
		ds = ds[n:]
		if err == nil || len(ds) == 0 {
			continue
		}
		// The datagram at the head was refused (or sendmmsg is not
		// there): write it alone so its error is counted as write
		// counts it, and carry on with the rest.
		d := ds[0]
		if _, werr := d.conn.WriteToUDPAddrPort(d.data, d.dst); werr != nil {
			t.sendErr.Add(1)
			if first == nil {
				first = fmt.Errorf("transport: send to %s: %w", d.dst, werr)
			}
		} else {
			t.sent.Add(1)
			t.sentBytes.Add(uint64(len(d.data)))
		}
		ds = ds[1:]
	}
	return first
}

// sendmmsg sends a prefix of ds (all on one socket) and reports how many
// datagrams went out; an error means the datagram after them was not
// sent.
func (w *batchWriter) sendmmsg(ds []dgram) (int, error) {
	n := len(ds)
	for i, d := range ds {
		if d.dst.Addr().Zone() != "" { // a scoped address: the plain write resolves its zone
			if i == 0 {
				return 0, errors.New("scoped address")
			}
			n = i
			break
		}
	}
	ds = ds[:n]
	if cap(w.iovs) < n {
		w.hdrs = make([]mmsghdr, n)
		w.iovs = make([]unix.Iovec, n)
		w.names = make([]unix.RawSockaddrInet6, n)
		w.segs = make([]int, n)
		w.cmsgs = make([]byte, n*gsoCmsgSpace)
	}
	// One header per gsoGroup (per datagram when segmenting is off), its
	// iovecs the group's datagrams, which lie side by side in ds.
	hdrs, iovs, names, segs := w.hdrs[:0], w.iovs[:n], w.names[:n], w.segs[:0]
	for i := 0; i < n; {
		k := 1
		if !w.noGSO {
			k = gsoGroup(ds[i:])
		}
		for j, d := range ds[i : i+k] {
			iovs[i+j] = unix.Iovec{}
			if len(d.data) > 0 {
				iovs[i+j].Base = &d.data[0]
			}
			iovs[i+j].SetLen(len(d.data))
		}
		h := len(hdrs)
		hdrs = append(hdrs, mmsghdr{})
		m := &hdrs[h].hdr
		m.Iov = &iovs[i]
		m.SetIovlen(k)
		m.Name = (*byte)(unsafe.Pointer(&names[h]))
		m.Namelen = putSockaddr(&names[h], ds[i].dst)
		if k > 1 {
			c := w.cmsgs[h*gsoCmsgSpace : (h+1)*gsoCmsgSpace]
			putSegmentCmsg(c, len(ds[i].data))
			m.Control = &c[0]
			m.SetControllen(len(c))
		}
		segs = append(segs, k)
		i += k
	}
	rc, err := ds[0].conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	sentHdrs := 0
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for sentHdrs < len(hdrs) {
			// Raw: unannounced to the Go scheduler, as libs/qbipc's
			// rawio package does for the daemons' sockets (its doc says
			// why); the socket is non-blocking, so the call never
			// waits. This one also delivers the frames into the
			// receivers' sockets over veth (tens to hundreds of
			// microseconds), long enough that, announced, the runtime
			// took totemd's only processor away mid-call at nearly
			// every token hop. Measured (BenchmarkCPG, same run, 3
			// pairs): the token went round 22 % more often at 1 KiB ×
			// 1000/s.
			r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[sentHdrs])), uintptr(len(hdrs)-sentHdrs), 0, 0, 0)
			switch {
			case errno == unix.EAGAIN:
				return false // wait until the socket is writable
			case errno == unix.EINTR:
				continue
			case errno != 0:
				serr = errno
				return true
			}
			sentHdrs += int(r)
		}
		return true
	})
	sent := 0
	for _, k := range segs[:sentHdrs] {
		sent += k
	}
	if serr != nil && segs[sentHdrs] > 1 && gsoRefused(serr) {
		// The kernel, the device or the route will not segment: send
		// datagram by datagram from now on, as before segmenting.
		w.noGSO = true
		serr = fmt.Errorf("segmented send refused, sending datagram by datagram from now on: %w", serr)
	}
	clear(iovs) // keep no frame alive through the scratch arrays
	clear(w.hdrs)
	if serr == nil {
		serr = werr
	}
	if serr == nil && sent < n {
		serr = errors.New("sendmmsg sent less than asked")
	}
	return sent, serr
}

// putSockaddr writes dst as a sockaddr_in or sockaddr_in6 and returns its
// length.
func putSockaddr(sa *unix.RawSockaddrInet6, dst netip.AddrPort) uint32 {
	port := dst.Port()
	a := dst.Addr()
	if a.Is4() {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}
