package nsscrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
)

// Keys holds a suite and the keys derived for it from the authkey. It is
// immutable and safe to share; each goroutine makes its own Sealer or Opener.
type Keys struct {
	suite  Suite
	block  cipher.Block // nil with cipher none
	macKey []byte       // nil with hash none
}

// NewKeys checks the suite (see Suite.Check, including FIPS mode) and derives
// the cipher and HMAC keys from authkey as the package doc describes. With
// none/none the authkey is not used and may be empty.
func NewKeys(s Suite, authkey []byte) (*Keys, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	k := &Keys{suite: s}
	if !s.Enabled() {
		return k, nil
	}
	if len(authkey) < MinKeyLen || len(authkey) > MaxKeyLen {
		return nil, fmt.Errorf("crypto %s: authkey has %d bytes, want %d..%d", s, len(authkey), MinKeyLen, MaxKeyLen)
	}
	if s.Cipher != CipherNone {
		ck, err := hkdf.Key(sha256.New, authkey, nil, "needle totem v1 cipher "+s.String(), s.Cipher.keySize())
		if err != nil {
			return nil, fmt.Errorf("crypto %s: derive cipher key: %w", s, err)
		}
		if s.Cipher == Cipher3DES {
			k.block, err = des.NewTripleDESCipher(ck)
		} else {
			k.block, err = aes.NewCipher(ck)
		}
		if err != nil {
			return nil, fmt.Errorf("crypto %s: cipher: %w", s, err)
		}
	}
	if s.Hash != HashNone {
		mk, err := hkdf.Key(sha256.New, authkey, nil, "needle totem v1 hmac "+s.String(), s.Hash.Size())
		if err != nil {
			return nil, fmt.Errorf("crypto %s: derive hmac key: %w", s, err)
		}
		k.macKey = mk
	}
	return k, nil
}

// Suite returns the suite the keys were made for.
func (k *Keys) Suite() Suite { return k.suite }

// Overhead is k.Suite().Overhead().
func (k *Keys) Overhead() int { return k.suite.Overhead() }

// newMAC returns a fresh HMAC for the suite's hash, or nil with hash none.
func (k *Keys) newMAC() hash.Hash {
	var h func() hash.Hash
	switch k.suite.Hash {
	case HashMD5:
		h = md5.New
	case HashSHA1:
		h = sha1.New
	case HashSHA256:
		h = sha256.New
	case HashSHA384:
		h = sha512.New384
	case HashSHA512:
		h = sha512.New
	default:
		return nil
	}
	return hmac.New(h, k.macKey)
}

// NewSealer returns the Sealer of node from in the given epoch (see
// NextEpoch), drawing IVs from rand (crypto/rand.Reader in production; a
// seeded reader makes sealing reproducible in tests).
func (k *Keys) NewSealer(rand io.Reader, from uint32, epoch uint64) *Sealer {
	s := &Sealer{keys: k, mac: k.newMAC(), rand: rand, from: from, epoch: epoch, last: map[uint32]uint64{}}
	if k.block != nil {
		s.enc = newCBCEncrypter(k.block)
	}
	return s
}

// NewOpener returns the Opener of node self: it accepts datagrams sealed
// for self or for every member (destination 0), each at most once.
func (k *Keys) NewOpener(self uint32) *Opener {
	o := &Opener{keys: k, mac: k.newMAC(), self: self}
	if k.block != nil {
		o.dec = newCBCDecrypter(k.block, fips140.Enabled())
	}
	return o
}
