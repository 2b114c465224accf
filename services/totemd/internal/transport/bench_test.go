package transport

import (
	"crypto/rand"
	"fmt"
	"testing"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/nsscrypto"
	"golang.org/x/sys/unix"
)

// benchFrame is a full frame of a 1500-byte MTU ring under aes256+sha256:
// its datagram is 1468 bytes, the largest multiple of the cipher block
// that fits a 1472-byte UDP payload.
const benchFrame = 1472 - 92

// BenchmarkUnpack is the receive loop's work on one full recvmmsg batch
// (recvBatch datagrams from one peer) after the system call: nodelist
// check, counting and, with crypto, opening each datagram. One op is one
// batch; the datagrams are copied into the reader's buffers first, as the
// kernel would have.
func BenchmarkUnpack(b *testing.B) {
	peers := loopPeers(2)
	keys, err := nsscrypto.NewKeys(nsscrypto.Suite{Cipher: nsscrypto.CipherAES256, Hash: nsscrypto.HashSHA256}, make([]byte, 128))
	if err != nil {
		b.Fatal(err)
	}
	for _, sealed := range []bool{false, true} {
		b.Run(fmt.Sprintf("sealed=%v", sealed), func(b *testing.B) {
			// cycle batches of distinct datagrams; a new receiving codec
			// after each cycle, as each datagram is accepted once.
			const cycle = 32
			sender := NewSealedCodec(keys, 2, 1, rand.Reader)
			batches := make([][][]byte, cycle)
			for i := range batches {
				for range recvBatch {
					d := make([]byte, benchFrame)
					if sealed {
						if d, err = sender.Seal(nil, d, 0); err != nil {
							b.Fatal(err)
						}
					}
					batches[i] = append(batches[i], d)
				}
			}
			t, r := unpackRig(peers, nil)
			b.SetBytes(int64(recvBatch * benchFrame))
			b.ReportAllocs()
			c := 0
			for b.Loop() {
				if c == 0 && sealed {
					t.cfg.Codec = NewSealedCodec(keys, 1, 1, rand.Reader)
				}
				r.fill(batches[c])
				if got := t.unpack(r, recvBatch); len(got) != recvBatch {
					b.Fatalf("%d packets of %d", len(got), recvBatch)
				}
				c = (c + 1) % cycle
			}
		})
	}
}

// unpackRig is a Transport without sockets, node 1 of peers, and a
// batchReader whose every slot came from node 2's address: what unpack
// needs to run on datagrams a test puts in the reader with fill.
func unpackRig(peers []Peer, codec FrameCodec) (*Transport, *batchReader) {
	t := &Transport{cfg: Config{Mode: UDPU, BlockUnlisted: true, Peers: peers, Port: 5405, Codec: codec}, log: hclog.NewNullLogger()}
	t.peers.Store(newPeerSet(peers, 5405))
	r := newBatchReader()
	for i := range recvBatch {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.names[i]))
		s4.Family = unix.AF_INET
		s4.Addr = peers[1].Addr.As4()
	}
	return t, r
}

// fill puts datagrams in the reader's first slots as recvmmsg would.
func (r *batchReader) fill(datagrams [][]byte) {
	for i, d := range datagrams {
		r.hdrs[i].len = uint32(copy(r.bufs[i], d))
		r.hdrs[i].hdr.Controllen = 0
	}
}
