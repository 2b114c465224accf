package nsscrypto

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// FuzzOpen feeds arbitrary datagrams to Open under every suite. Open must
// never panic; whatever it accepts must be exactly what Seal produces for
// the returned frame with the datagram's own sender header and IV, and the
// same datagram must never be accepted twice.
func FuzzOpen(f *testing.F) {
	suites := allSuites()
	keys := make([]*Keys, len(suites))
	for i, su := range suites {
		keys[i] = mustKeys(f, su, testKey(20))
	}
	for i, k := range keys {
		for j, frame := range [][]byte{nil, []byte("x"), make([]byte, 16), make([]byte, 100)} {
			dg, err := k.NewSealer(seeded(byte(i)), uint32(j), 5).Seal(nil, frame, uint32(j%2)*2)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), dg)
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(3), []byte{1, 3, 1, 0})
	f.Fuzz(func(t *testing.T, which uint8, dg []byte) {
		k := keys[int(which)%len(keys)]
		o := k.NewOpener(2)
		frame, org, err := o.OpenFrom(nil, dg, now())
		if err != nil {
			return
		}
		su := k.Suite()
		if len(frame) > len(dg) || len(dg)-len(frame) > su.Overhead() {
			t.Fatalf("%s: %d-byte datagram opened to %d bytes", su, len(dg), len(frame))
		}
		if !su.Enabled() {
			return
		}
		if org.To != 0 && org.To != 2 {
			t.Fatalf("%s: accepted a datagram sealed for node %d at node 2", su, org.To)
		}
		if got := binary.BigEndian.Uint64(dg[headerSize+16:]); got != org.Seq {
			t.Fatalf("%s: origin seq %d, header says %d", su, org.Seq, got)
		}
		if _, err := o.Open(nil, dg, now()); err == nil {
			t.Fatalf("%s: the same datagram opened twice", su)
		}
		bs := su.Cipher.BlockSize()
		iv := dg[headerSize+senderSize : headerSize+senderSize+bs]
		s := k.NewSealer(bytes.NewReader(iv), org.Sender, org.Epoch)
		s.last[org.To] = org.Seq - 1
		again, err := s.Seal(nil, frame, org.To)
		if err != nil {
			t.Fatalf("%s: reseal: %v", su, err)
		}
		if !bytes.Equal(again, dg) {
			t.Fatalf("%s: accepted % x, but sealing its frame gives % x", su, dg, again)
		}
	})
}

// FuzzReplayWindow checks the window against a plain model (a set of
// accepted numbers per stream and epoch, the first one, the newest and its
// arrival) on arbitrary sequences of (stream, epoch, seq, time step): both
// must agree on every verdict.
func FuzzReplayWindow(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{1, 3, 0, 4, 0, 1, 3, 0, 2, 0, 1, 3, 0, 4, 0, 1, 2, 0, 9, 0, 1, 4, 255, 255, 3})
	f.Add([]byte{0, 1, 0, 5, 0, 0, 1, 0, 9, 0, 0, 1, 0, 7, 255, 0, 1, 0, 6, 255, 0, 1, 0, 8, 255, 0, 1, 0, 6, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		type model struct {
			epoch, floor, top uint64
			topAt             time.Time
			seen              map[uint64]bool
		}
		var w replayWindow
		m := map[streamKey]*model{}
		at := time.Now()
		for len(ops) >= 5 {
			k := streamKey{sender: uint32(ops[0] % 3), group: ops[0]&4 != 0}
			epoch := uint64(ops[1] % 4)
			// Sequence steps of up to ~3 windows, so every case is reached.
			seq := uint64(binary.BigEndian.Uint16(ops[2:4])) % (3 * WindowSize)
			at = at.Add(time.Duration(ops[4]) * 5 * time.Millisecond) // up to 1.275 s
			ops = ops[5:]
			s, ok := m[k]
			want := !ok || epoch > s.epoch ||
				(epoch == s.epoch && (seq > s.top ||
					(!s.seen[seq] && seq >= s.floor && s.top-seq < WindowSize && at.Sub(s.topAt) < MaxLate)))
			err := w.check(k, epoch, seq, at)
			if (err == nil) != want {
				t.Fatalf("%+v epoch %d seq %d: window says %v, model says accept=%v", k, epoch, seq, err, want)
			}
			if !want {
				continue
			}
			w.accept(k, epoch, seq, at)
			if !ok || epoch > s.epoch {
				s = &model{epoch: epoch, floor: seq, top: seq, topAt: at, seen: map[uint64]bool{}}
				m[k] = s
			}
			s.seen[seq] = true
			if seq > s.top {
				s.top, s.topAt = seq, at
			}
		}
	})
}
