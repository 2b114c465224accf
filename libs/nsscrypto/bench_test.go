package nsscrypto

import (
	"crypto/rand"
	"testing"
	"time"
)

// benchSizes are the frame sizes BenchmarkSeal and BenchmarkOpen run:
// 1 KiB, 64 KiB (MaxFrame) and 1380 bytes, a full frame of a 1500-byte MTU
// ring, whose aes256+sha256 datagram is 1468 bytes (the largest multiple
// of the block that fits a 1472-byte UDP payload): what totemd seals and
// opens for every large message, fragment by fragment.
var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"1380B", 1472 - 92}, {"64KiB", 64 << 10}}

// BenchmarkSeal and BenchmarkOpen report MB/s of frame payload for
// aes256+sha256, the suite `secauth: on` selects.
func BenchmarkSeal(b *testing.B) {
	k := mustKeys(b, Suite{CipherAES256, HashSHA256}, testKey(30))
	for _, sz := range benchSizes {
		n := sz.n
		b.Run(sz.name, func(b *testing.B) {
			s := k.NewSealer(rand.Reader, 1, 1)
			frame := make([]byte, n)
			buf := make([]byte, 0, n+k.Overhead())
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(buf[:0], frame, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen opens a cycle of distinct datagrams (each is accepted only
// once); after each pass through the cycle the window is forgotten, which
// costs one map clear per benchOpenCycle datagrams.
func BenchmarkOpen(b *testing.B) {
	const benchOpenCycle = 16
	k := mustKeys(b, Suite{CipherAES256, HashSHA256}, testKey(30))
	for _, sz := range benchSizes {
		n := sz.n
		b.Run(sz.name, func(b *testing.B) {
			s := k.NewSealer(rand.Reader, 1, 1)
			dgs := make([][]byte, benchOpenCycle)
			for i := range dgs {
				var err error
				if dgs[i], err = s.Seal(nil, make([]byte, n), 2); err != nil {
					b.Fatal(err)
				}
			}
			o := k.NewOpener(2)
			buf := make([]byte, 0, n+16)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := o.Open(buf[:0], dgs[i], now()); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(dgs) {
					i = 0
					clear(o.win.streams)
				}
			}
		})
	}
}

// BenchmarkReplayWindow is the replay protection's own share of Open: the
// window check and record of an in-order datagram.
func BenchmarkReplayWindow(b *testing.B) {
	var w replayWindow
	k := streamKey{sender: 1}
	at := time.Now()
	seq := uint64(0)
	for b.Loop() {
		seq++
		if err := w.check(k, 1, seq, at); err != nil {
			b.Fatal(err)
		}
		w.accept(k, 1, seq, at)
	}
}

// BenchmarkCBCDecrypt is Open's decryption of a 1468-byte datagram's
// payload (87 AES-256 blocks) both ways cbcDecrypter has: block by block
// with one XOR (outside FIPS mode) and the module's CBC decrypter, reused
// (FIPS mode).
func BenchmarkCBCDecrypt(b *testing.B) {
	k := mustKeys(b, Suite{CipherAES256, HashSHA256}, testKey(30))
	body := make([]byte, 16+1392)
	seeded(1).Read(body)
	pt := make([]byte, len(body)-16)
	for _, fips := range []bool{false, true} {
		name := "blocks"
		if fips {
			name = "fips"
		}
		b.Run(name, func(b *testing.B) {
			d := newCBCDecrypter(k.block, fips)
			b.SetBytes(int64(len(pt)))
			b.ReportAllocs()
			for b.Loop() {
				d.decrypt(pt, body)
			}
		})
	}
}
