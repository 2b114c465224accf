package transport

import (
	"io"
	"sync"
	"time"

	"github.com/needle-cluster/needle/libs/nsscrypto"
)

// sealedCodec is the FrameCodec of an encrypted ring: one Sealer for
// everything the node sends and one Opener for everything it receives
// (both receive loops share it under a lock, so each datagram is accepted
// at most once whichever socket it came in on).
type sealedCodec struct {
	smu    sync.Mutex
	sealer *nsscrypto.Sealer
	omu    sync.Mutex
	opener *nsscrypto.Opener
}

// NewSealedCodec returns the codec of node self in the given epoch
// (nsscrypto.NextEpoch), drawing IVs from rand (crypto/rand.Reader).
func NewSealedCodec(k *nsscrypto.Keys, self uint32, epoch uint64, rand io.Reader) FrameCodec {
	return &sealedCodec{sealer: k.NewSealer(rand, self, epoch), opener: k.NewOpener(self)}
}

func (c *sealedCodec) Seal(dst, frame []byte, to uint32) ([]byte, error) {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.sealer.Seal(dst, frame, to)
}

func (c *sealedCodec) Open(dst, d []byte) ([]byte, error) {
	c.omu.Lock()
	defer c.omu.Unlock()
	return c.opener.Open(dst, d, time.Now())
}
