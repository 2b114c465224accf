package nsscrypto

import (
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"slices"
)

// Sealer turns Totem frames into datagrams. It keeps per-call scratch state
// and the sequence counters, so one Sealer must not be used by two
// goroutines at once, and a node must use one Sealer for all its sends (two
// Sealers with the same sender and epoch would reuse sequence numbers, and
// receivers would drop the second of each pair as a replay).
type Sealer struct {
	keys  *Keys
	mac   hash.Hash // reused: Reset per datagram
	enc   cbcEncrypter
	rand  io.Reader
	from  uint32
	epoch uint64
	last  map[uint32]uint64 // destination → last sequence number sealed for it
}

// Seal appends the sealed datagram for frame, addressed to node to (0: every
// member, for one multicast datagram), to dst and returns the result (layout
// in the package doc). Each destination has its own sequence, starting at 1
// in the Sealer's epoch. dst must not overlap frame. With none/none the
// frame is appended unchanged and nothing is counted. The only errors are a
// frame larger than MaxFrame and a failing random source.
func (s *Sealer) Seal(dst, frame []byte, to uint32) ([]byte, error) {
	if len(frame) > MaxFrame {
		return dst, fmt.Errorf("seal: frame of %d bytes exceeds the %d-byte maximum", len(frame), MaxFrame)
	}
	su := s.keys.suite
	if !su.Enabled() {
		return append(dst, frame...), nil
	}
	seq := s.last[to] + 1
	start := len(dst)
	out := slices.Grow(dst, su.Overhead()+len(frame))
	out = append(out, byte(su.Cipher), byte(su.Hash), formatV2, 0)
	out = binary.BigEndian.AppendUint32(out, s.from)
	out = binary.BigEndian.AppendUint32(out, to)
	out = binary.BigEndian.AppendUint64(out, s.epoch)
	out = binary.BigEndian.AppendUint64(out, seq)

	if bs := su.Cipher.BlockSize(); bs > 0 {
		ivAt := len(out)
		out = out[:ivAt+bs]
		iv := out[ivAt:]
		if _, err := io.ReadFull(s.rand, iv); err != nil {
			return dst, fmt.Errorf("seal: read %d-byte IV: %w", bs, err)
		}
		body := len(out)
		out = append(out, frame...)
		pad := bs - len(frame)%bs
		for range pad {
			out = append(out, byte(pad))
		}
		ct := out[body:]
		s.enc.encrypt(iv, ct)
	} else {
		out = append(out, frame...)
	}

	s.mac.Reset()
	s.mac.Write(out[start:])
	s.last[to] = seq
	return s.mac.Sum(out), nil
}

// Epoch is the epoch this Sealer stamps on every datagram.
func (s *Sealer) Epoch() uint64 { return s.epoch }
