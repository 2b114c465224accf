package nsscrypto

import (
	"crypto/cipher"
	"fmt"
	"hash"
	"io"
	"slices"
)

// Sealer turns Totem frames into datagrams. It keeps per-call scratch state,
// so one Sealer must not be used by two goroutines at once.
type Sealer struct {
	keys *Keys
	mac  hash.Hash
	rand io.Reader
}

// Seal appends the sealed datagram for frame to dst and returns the result
// (layout in the package doc). dst must not overlap frame. With none/none the
// frame is appended unchanged. The only errors are a frame larger than
// MaxFrame and a failing random source.
func (s *Sealer) Seal(dst, frame []byte) ([]byte, error) {
	if len(frame) > MaxFrame {
		return dst, fmt.Errorf("seal: frame of %d bytes exceeds the %d-byte maximum", len(frame), MaxFrame)
	}
	su := s.keys.suite
	if !su.Enabled() {
		return append(dst, frame...), nil
	}
	start := len(dst)
	out := slices.Grow(dst, su.Overhead()+len(frame))
	out = append(out, byte(su.Cipher), byte(su.Hash), 0, 0)

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
		cipher.NewCBCEncrypter(s.keys.block, iv).CryptBlocks(ct, ct)
	} else {
		out = append(out, frame...)
	}

	s.mac.Reset()
	s.mac.Write(out[start:])
	return s.mac.Sum(out), nil
}
