package transport

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
	"unsafe"

	"github.com/needle-cluster/needle/libs/nsscrypto"
	"golang.org/x/sys/unix"
)

// TestUnpackOpensIntoTheSlab: with the sealing codec, a batch's datagrams
// are opened straight from the read buffers. Authentic fresh ones come
// out as the frames that were sealed, each capped at its length and not
// aliasing the read buffers (the next read reuses them); a tampered
// datagram is dropped as an authentication failure; a replayed one and
// one sealed for another node are dropped as replays; a UDP_GRO slot of
// several datagrams is opened datagram by datagram.
func TestUnpackOpensIntoTheSlab(t *testing.T) {
	peers := loopPeers(3)
	keys, err := nsscrypto.NewKeys(nsscrypto.Suite{Cipher: nsscrypto.CipherAES256, Hash: nsscrypto.HashSHA256}, make([]byte, 128))
	if err != nil {
		t.Fatal(err)
	}
	sender := NewSealedCodec(keys, 2, 1, rand.Reader)
	seal := func(f []byte, to uint32) []byte {
		d, err := sender.Seal(nil, f, to)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	big := bytes.Repeat([]byte("0123456789"), benchFrame/10)
	frames := [][]byte{[]byte("frame 0"), big, []byte("token for node 1")}
	d0, d1, tok := seal(frames[0], 0), seal(frames[1], 0), seal(frames[2], 1)
	tampered := seal([]byte("tampered"), 0)
	tampered[len(tampered)/2] ^= 1
	// Two datagrams of one segment size (1468 bytes), as one GRO read.
	g0, g1 := seal(big[:len(big)-1], 0), seal(big, 0)
	if len(g0) != len(g1) {
		t.Fatalf("GRO segments of %d and %d bytes", len(g0), len(g1))
	}
	in := [][]byte{d0, tampered, d1, d0, seal([]byte("for node 3"), 3), tok, append(bytes.Clone(g0), g1...)}

	tr, r := unpackRig(peers, NewSealedCodec(keys, 1, 1, rand.Reader))
	r.fill(in)
	putGROCmsg(r, len(in)-1, len(g0))
	got := tr.unpack(r, len(in))
	for i := range r.bufs {
		for j := range r.bufs[i] {
			r.bufs[i][j] = 0xee // the next read
		}
	}

	want := append(frames, big[:len(big)-1], big)
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i, p := range got {
		if !bytes.Equal(p.Frame, want[i]) {
			t.Errorf("packet %d: %d bytes %.20q..., want %d bytes %.20q...", i, len(p.Frame), p.Frame, len(want[i]), want[i])
		}
		if cap(p.Frame) != len(p.Frame) {
			t.Errorf("packet %d: capacity %d beyond its %d bytes", i, cap(p.Frame), len(p.Frame))
		}
		if p.From.Addr() != peers[1].Addr {
			t.Errorf("packet %d from %v", i, p.From)
		}
	}
	var wire uint64
	for _, d := range in {
		wire += uint64(len(d))
	}
	s := tr.Stats()
	if s.Received != 5 || s.DroppedAuth != 1 || s.DroppedReplay != 2 || s.ReceivedBytes != wire || s.Coalesced != 2 {
		t.Fatalf("stats %+v, want 5 received (%d bytes), 1 auth and 2 replay drops, 2 coalesced", s, wire)
	}
}

// TestUnpackPlain: without a codec the frames are the datagrams, copied
// out of the read buffers.
func TestUnpackPlain(t *testing.T) {
	tr, r := unpackRig(loopPeers(2), nil)
	var in [][]byte
	for i := range recvBatch {
		in = append(in, []byte(fmt.Sprintf("plain frame %d", i)))
	}
	r.fill(in)
	got := tr.unpack(r, len(in))
	for i := range r.bufs {
		clear(r.bufs[i])
	}
	if len(got) != len(in) {
		t.Fatalf("%d packets, want %d", len(got), len(in))
	}
	for i, p := range got {
		if !bytes.Equal(p.Frame, in[i]) || cap(p.Frame) != len(p.Frame) {
			t.Errorf("packet %d: %q (capacity %d), want %q", i, p.Frame, cap(p.Frame), in[i])
		}
	}
}

// putGROCmsg gives slot i the UDP_GRO control message of a coalesced
// read with segment size seg.
func putGROCmsg(r *batchReader, i, seg int) {
	c := r.ctrl[i*groCmsgSpace : (i+1)*groCmsgSpace]
	clear(c)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_GRO
	h.SetLen(unix.CmsgLen(4))
	*(*int32)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = int32(seg)
	r.hdrs[i].hdr.SetControllen(unix.CmsgSpace(4))
}
