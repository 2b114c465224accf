package nsscrypto

import (
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen report MB/s of frame payload for
// aes256+sha256, the suite `secauth: on` selects.
func BenchmarkSeal(b *testing.B) {
	k := mustKeys(b, Suite{CipherAES256, HashSHA256}, testKey(30))
	for _, n := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			s := k.NewSealer(rand.Reader)
			frame := make([]byte, n)
			buf := make([]byte, 0, n+k.Overhead())
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(buf[:0], frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustKeys(b, Suite{CipherAES256, HashSHA256}, testKey(30))
	for _, n := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			dg, err := k.NewSealer(rand.Reader).Seal(nil, make([]byte, n))
			if err != nil {
				b.Fatal(err)
			}
			o := k.NewOpener()
			buf := make([]byte, 0, n+16)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := o.Open(buf[:0], dg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
