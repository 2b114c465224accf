package nsscrypto

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary datagrams to Open under every suite. Open must
// never panic, and whatever it accepts must be exactly what Seal produces
// for the returned frame with the datagram's own IV.
func FuzzOpen(f *testing.F) {
	suites := allSuites()
	keys := make([]*Keys, len(suites))
	for i, su := range suites {
		keys[i] = mustKeys(f, su, testKey(20))
	}
	for i, k := range keys {
		for _, frame := range [][]byte{nil, []byte("x"), make([]byte, 16), make([]byte, 100)} {
			dg, err := k.NewSealer(seeded(byte(i))).Seal(nil, frame)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), dg)
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(3), []byte{1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, dg []byte) {
		k := keys[int(which)%len(keys)]
		frame, err := k.NewOpener().Open(nil, dg)
		if err != nil {
			return
		}
		su := k.Suite()
		if len(frame) > len(dg) || len(dg)-len(frame) > su.Overhead() {
			t.Fatalf("%s: %d-byte datagram opened to %d bytes", su, len(dg), len(frame))
		}
		bs := su.Cipher.BlockSize()
		iv := []byte{}
		if su.Enabled() && bs > 0 {
			iv = dg[headerSize : headerSize+bs]
		}
		again, err := k.NewSealer(bytes.NewReader(iv)).Seal(nil, frame)
		if err != nil {
			t.Fatalf("%s: reseal: %v", su, err)
		}
		if !bytes.Equal(again, dg) {
			t.Fatalf("%s: accepted % x, but sealing its frame gives % x", su, dg, again)
		}
	})
}
