package client

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// TestLiveBadInput sends malformed requests to the daemon serving here
// (needle's quorumd; corosync reads short requests past their end, so it
// is not run against it): each gets corosync's generic reply (id 0,
// CS_ERR_INVALID_PARAM) and the connection keeps working. (qbipc's client
// writes the header's size from the message length, so a size field that
// lies cannot be sent from here; qbipc's server validates it.)
func TestLiveBadInput(t *testing.T) {
	if os.Getenv(liveEnv) != "1" {
		t.Skip("set " + liveEnv + "=1 to run against the daemon serving here")
	}
	long := make([]byte, 255)
	for i := range long {
		long[i] = 'x'
	}
	register := wire.VQQdeviceRegister{Name: "x"}.Encode()
	copy(register[16:], long) // no NUL in the name
	cases := []struct {
		service string
		msg     []byte
	}{
		{wire.QuorumEndpoint, qbipc.NewRequest(wire.QReqTrackStart, 0)},         // 16 bytes, needs 24
		{wire.QuorumEndpoint, qbipc.NewRequest(wire.QReqGetQuorate, 64)},        // too long
		{wire.QuorumEndpoint, qbipc.NewRequest(77, 0)},                          // unknown id
		{wire.VotequorumEndpoint, qbipc.NewRequest(wire.VQReqQdevicePoll, 100)}, // short poll
		{wire.VotequorumEndpoint, register},                                     // name without NUL
		{wire.VotequorumEndpoint, qbipc.NewRequest(-1&0x7fffffff, 0)},           // unknown id
		{wire.VotequorumEndpoint, qbipc.NewRequest(wire.VQReqGetInfo, 1000)},    // long getinfo
	}
	for i, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ipc, err := qbipc.Dial(ctx, c.service, qbipc.DialOptions{})
		if err != nil {
			cancel()
			t.Fatalf("case %d: dial %s: %v", i, c.service, err)
		}
		b, err := ipc.Request(ctx, c.msg)
		if err != nil {
			t.Errorf("case %d (%s, %d bytes): %v", i, c.service, len(c.msg), err)
		} else if !bytes.Equal(b, wire.GenericError(cs.ErrInvalidParam)) {
			t.Errorf("case %d (%s, %d bytes): reply %x, want the generic INVALID_PARAM", i, c.service, len(c.msg), b)
		}
		// The same connection still answers a good request.
		good := wire.QGetQuorate{}.Encode()
		if c.service == wire.VotequorumEndpoint {
			good = wire.VQGetInfo{}.Encode()
		}
		if b, err := ipc.Request(ctx, good); err != nil || len(b) < 24 || b[16] != byte(cs.OK) {
			t.Errorf("case %d: good request after the bad one: %x %v", i, b, err)
		}
		ipc.Close()
		cancel()
	}
}
