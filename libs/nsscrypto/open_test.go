package nsscrypto

import (
	"bytes"
	"errors"
	"testing"
)

// TestOpenAppendsToDst: Open appends the frame to what dst holds (the
// transport opens a batch's datagrams one after another into one slab),
// leaves the datagram as it was, and on a refusal returns dst with its
// length unchanged; a refused datagram, tampered or replayed, leaves no
// trace that would spoil the next one. Every suite, one Opener reused.
func TestOpenAppendsToDst(t *testing.T) {
	for i, su := range allSuites() {
		k := mustKeys(t, su, testKey(50))
		s := k.NewSealer(seeded(byte(i)), 1, 9)
		o := k.NewOpener(2)
		slab := make([]byte, 0, 8<<10)
		var frames [][]byte
		for j, n := range []int{0, 1, 16, 31, 1380, 17} {
			frame := make([]byte, n)
			seeded(byte(100 + j)).Read(frame)
			dg, err := s.Seal(nil, frame, uint32(j%2)*2)
			if err != nil {
				t.Fatal(err)
			}
			kept := bytes.Clone(dg)
			if su.Enabled() {
				bad := bytes.Clone(dg)
				bad[len(bad)-1] ^= 0x80
				if out, err := o.Open(slab, bad, now()); !errors.Is(err, ErrDigest) || len(out) != len(slab) {
					t.Fatalf("%s: tampered datagram: %d bytes, %v", su, len(out)-len(slab), err)
				}
			}
			before := len(slab)
			if slab, err = o.Open(slab, dg, now()); err != nil {
				t.Fatalf("%s, %d bytes: %v", su, n, err)
			}
			if !bytes.Equal(slab[before:], frame) {
				t.Fatalf("%s, %d bytes: opened to %d different bytes", su, n, len(slab)-before)
			}
			if !bytes.Equal(dg, kept) {
				t.Fatalf("%s, %d bytes: Open wrote to the datagram", su, n)
			}
			if su.Enabled() {
				if out, err := o.Open(slab, dg, now()); !errors.Is(err, ErrReplay) || len(out) != len(slab) {
					t.Fatalf("%s: replay: %d bytes, %v", su, len(out)-len(slab), err)
				}
			}
			frames = append(frames, frame)
		}
		if !bytes.Equal(slab, bytes.Join(frames, nil)) {
			t.Fatalf("%s: the slab lost earlier frames", su)
		}
	}
}
