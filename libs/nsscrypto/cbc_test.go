package nsscrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// TestCBCDecryptMatchesCryptoCipher: both ways cbcDecrypter decrypts
// (block by block with one XOR outside FIPS mode, the reused module
// decrypter in it) give crypto/cipher's CBC plaintext, for every block
// cipher and length, one decrypter reused across datagrams with
// different IVs.
func TestCBCDecryptMatchesCryptoCipher(t *testing.T) {
	key := testKey(40)
	blocks := map[string]cipher.Block{}
	for _, n := range []int{16, 24, 32} {
		b, err := aes.NewCipher(key[:n])
		if err != nil {
			t.Fatal(err)
		}
		blocks[fmt.Sprintf("aes%d", n*8)] = b
	}
	b3, err := des.NewTripleDESCipher(key[:24])
	if err != nil {
		t.Fatal(err)
	}
	blocks["3des"] = b3
	rnd := seeded(41)
	for name, b := range blocks {
		for _, fips := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fips=%v", name, fips), func(t *testing.T) {
				d := newCBCDecrypter(b, fips)
				bs := b.BlockSize()
				for nb := 1; nb <= 100; nb++ {
					body := make([]byte, (nb+1)*bs) // IV, then nb blocks
					rnd.Read(body)
					want := make([]byte, nb*bs)
					cipher.NewCBCDecrypter(b, body[:bs]).CryptBlocks(want, body[bs:])
					kept := bytes.Clone(body)
					got := make([]byte, nb*bs)
					d.decrypt(got, body)
					if !bytes.Equal(got, want) {
						t.Fatalf("%d blocks: plaintext differs from crypto/cipher's", nb)
					}
					if !bytes.Equal(body, kept) {
						t.Fatalf("%d blocks: decrypt wrote to its input", nb)
					}
				}
			})
		}
	}
}

// TestSealedBytesUnchanged pins the exact datagrams Seal produced before
// its CBC encrypter and HMAC were reused across calls (the digest was
// taken at that version): every suite, frame lengths around the block
// boundaries and a full 1500-byte-MTU frame, several datagrams per Sealer
// and destination. The wire must not change.
func TestSealedBytesUnchanged(t *testing.T) {
	const want = "687d83cc7d3f6646c43c49f5cce81b60ece1dfcb41a1f1fea794cb39cded87c5"
	h := sha256.New()
	for i, su := range allSuites() {
		k := mustKeys(t, su, testKey(42))
		s := k.NewSealer(seeded(byte(i)), 3, 0x0102030405060708)
		o := k.NewOpener(2)
		for j, n := range []int{0, 1, 7, 8, 15, 16, 17, 100, 1380, 1380} {
			frame := make([]byte, n)
			seeded(byte(j)).Read(frame)
			dg, err := s.Seal(nil, frame, uint32(j%2)*2)
			if err != nil {
				t.Fatalf("%s: %v", su, err)
			}
			h.Write(dg)
			got, err := o.Open(nil, dg, now())
			if err != nil || !bytes.Equal(got, frame) {
				t.Fatalf("%s, %d bytes: open gave %d bytes, %v", su, n, len(got), err)
			}
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("sealed datagrams digest %s, want %s", got, want)
	}
}
