package transport

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Segmented sends (UDP generic segmentation offload, UDP_SEGMENT): a run
// of datagrams of one size for one destination goes to the kernel as one
// buffer it cuts into those datagrams, so the send path (route, netfilter,
// the device, and over veth the receiver's IP input) runs once for the
// run instead of once per datagram. A token visit's frames for a member
// are such a run (pg fills every frame but the last), and at 16 and 64
// KiB messages most of the sending totemd's time was that path. The
// receiver gets the same datagrams as before (its kernel cuts them apart
// for a socket that did not ask for UDP_GRO), so corosync nodes see no
// difference; neither does anything on the wire of a real network, where
// the device or the kernel segments before sending.
//
// Where the kernel, device or route refuses (gsoRefused), the transport
// falls back to datagram by datagram for good (batchWriter.noGSO).
const (
	// gsoMaxSegs is the kernel's UDP_MAX_SEGMENTS before 6.9 (64; later
	// kernels take 128).
	gsoMaxSegs = 64
	// gsoMaxBytes bounds a run's payload: one UDP datagram's worth
	// (65,507 bytes over IPv4) with room to spare.
	gsoMaxBytes = 65000
	// gsoCmsgSpace is the room of one UDP_SEGMENT control message (a
	// cmsghdr and a uint16, aligned).
	gsoCmsgSpace = (unix.SizeofCmsghdr + 2 + 7) &^ 7
)

// gsoGroup says how many datagrams from the head of ds one segmented send
// takes (1: send the head alone): consecutive datagrams for the same
// destination on the same socket, all of the head's size but the last,
// which may be shorter, within the kernel's bounds.
func gsoGroup(ds []dgram) int {
	size := len(ds[0].data)
	if size == 0 {
		return 1
	}
	total, k := size, 1
	for k < len(ds) && k < gsoMaxSegs {
		d := ds[k]
		if d.conn != ds[0].conn || d.dst != ds[0].dst || len(d.data) == 0 || len(d.data) > size || total+len(d.data) > gsoMaxBytes {
			break
		}
		total += len(d.data)
		k++
		if len(d.data) < size {
			break // a shorter datagram can only end a run
		}
	}
	return k
}

// putSegmentCmsg writes a UDP_SEGMENT control message of segment size
// size into c (gsoCmsgSpace bytes).
func putSegmentCmsg(c []byte, size int) {
	clear(c)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(size)
}

// gsoRefused tells a refusal to segment (no support in the kernel, a
// device or route that cannot take it, a segment size over the path's
// MTU) from an ordinary send error.
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EMSGSIZE)
}

// groCmsgSpace is the room of the UDP_GRO control message a receiving
// socket with UDP_GRO on gets with a coalesced read (a cmsghdr and an
// int).
const groCmsgSpace = (unix.SizeofCmsghdr + 4 + 7) &^ 7

// enableGRO asks the kernel to hand the socket a run of one sender's
// datagrams (a segmented send, gso.go) as one read with its segment size
// (batchReader.segment) instead of cutting it into datagrams and queueing
// each: a read per run instead of per datagram.
func enableGRO(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1)
}
