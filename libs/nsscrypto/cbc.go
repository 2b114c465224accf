package nsscrypto

import (
	"crypto/cipher"
	"crypto/subtle"
)

// ivMode is a CBC BlockMode whose IV can be replaced. crypto/cipher's CBC
// encrypters and decrypters implement it, so one of each serves every
// datagram of a Sealer or Opener: making a new one per datagram copied the
// AES key schedule into a fresh 512-byte allocation every time.
type ivMode interface {
	cipher.BlockMode
	SetIV(iv []byte)
}

// cbcEncrypter seals CBC with one reused encrypter (see ivMode).
type cbcEncrypter struct {
	block cipher.Block
	mode  ivMode // nil if crypto/cipher's encrypter has no SetIV
}

func newCBCEncrypter(block cipher.Block) cbcEncrypter {
	e := cbcEncrypter{block: block}
	e.mode, _ = cipher.NewCBCEncrypter(block, make([]byte, block.BlockSize())).(ivMode)
	return e
}

// encrypt encrypts buf in place with CBC and the IV iv.
func (e *cbcEncrypter) encrypt(iv, buf []byte) {
	if e.mode == nil {
		cipher.NewCBCEncrypter(e.block, iv).CryptBlocks(buf, buf)
		return
	}
	e.mode.SetIV(iv)
	e.mode.CryptBlocks(buf, buf)
}

// cbcDecrypter opens CBC. Outside FIPS mode it decrypts every block with
// the block cipher straight into the output and then applies the chaining
// with one XOR over the whole payload: the same function as crypto/cipher's
// CBC decrypter, which on amd64 XORs block by block (two calls per 16
// bytes), and about a fifth faster. In FIPS mode (GODEBUG=fips140=on or
// only) the module's own CBC decrypter does the work instead, reused:
// single-block calls count as AES-ECB, which FIPS 140-3 does not approve,
// and the service indicator must stay approved.
type cbcDecrypter struct {
	block cipher.Block
	fips  bool
	mode  ivMode // FIPS mode only; nil if it has no SetIV (made per call)
}

// newCBCDecrypter returns the decrypter for block; fips is whether Go's
// FIPS 140-3 mode is on (fips140.Enabled, a parameter so tests reach both
// ways).
func newCBCDecrypter(block cipher.Block, fips bool) cbcDecrypter {
	d := cbcDecrypter{block: block, fips: fips}
	if fips {
		d.mode, _ = cipher.NewCBCDecrypter(block, make([]byte, block.BlockSize())).(ivMode)
	}
	return d
}

// decrypt writes to pt the CBC decryption of body, which is the IV
// followed by the ciphertext, as in the datagram (the IV chains into the
// first block, each ciphertext block into the next). len(pt) is len(body)
// minus one block, a whole number of blocks; pt must not overlap body.
func (d *cbcDecrypter) decrypt(pt, body []byte) {
	bs := d.block.BlockSize()
	iv, ct := body[:bs], body[bs:]
	switch {
	case !d.fips:
		for i := 0; i < len(ct); i += bs {
			d.block.Decrypt(pt[i:i+bs], ct[i:i+bs])
		}
		// P[i] = D(C[i]) ^ C[i-1] with C[-1] = IV: body, one block behind.
		subtle.XORBytes(pt, pt, body[:len(ct)])
	case d.mode != nil:
		d.mode.SetIV(iv)
		d.mode.CryptBlocks(pt, ct)
	default:
		cipher.NewCBCDecrypter(d.block, iv).CryptBlocks(pt, ct)
	}
}
