package qbipc

import (
	"context"
	"io"
	"net"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// Every length this package reads from a peer is bounded before it sizes
// an allocation: request and response headers must match the bytes that
// arrived (validateRequest, the transports' maxMsg), shared-memory chunks
// are checked against the ring and maxMsg (shmring.readTaken), the ring
// word count against maxWords (shmring.Open), and a server's max_msg_size
// against maxServerMsgSize (handshakeClient). The fuzz targets check that
// no input allocates more than allocBudget.

// allocBudget is what handling one input of n bytes may allocate.
func allocBudget(n int) uint64 { return 256<<10 + 8*uint64(n) }

func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// boundedAlloc fails t when f allocates more than allocBudget(n). The
// counter is process-wide and the fuzzing engine allocates beside f, so f
// (deterministic) runs up to three times and the least is judged.
func boundedAlloc(t testing.TB, what string, n int, f func()) {
	t.Helper()
	least := ^uint64(0)
	for range 3 {
		if least = min(least, allocated(f)); least <= allocBudget(n) {
			return
		}
	}
	t.Fatalf("%s: %d input bytes allocated %d bytes (budget %d)", what, n, least, allocBudget(n))
}

// memoryLimit keeps a fuzz run's heap under a soft limit.
func memoryLimit(f *testing.F) {
	old := debug.SetMemoryLimit(512 << 20)
	f.Cleanup(func() { debug.SetMemoryLimit(old) })
}

// TestClientRefusesHugeMaxMsgSize: whoever answers on a service's name
// cannot make a client allocate what its connection response declares.
func TestClientRefusesHugeMaxMsgSize(t *testing.T) {
	svc := testService()
	addr, err := abstractAddr(svc, "unix")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, connReqSize))
		b, _ := connResponse{transport: wireSocket, maxMsgSize: 0xffffffff, request: "r", response: "s"}.encode()
		c.Write(b)
		c.Read(make([]byte, 1)) // until the client hangs up
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var derr error
	got := allocated(func() { // once: the fake server answers one connection
		var c *Client
		if c, derr = Dial(ctx, svc, DialOptions{}); derr == nil {
			c.Close()
		}
	})
	if got > 4<<20 {
		t.Errorf("Dial allocated %d bytes", got)
	}
	if derr == nil || !strings.Contains(derr.Error(), "max_msg_size 4294967295 over 67108864") {
		t.Fatalf("Dial against a server declaring 4 GiB messages: %v", derr)
	}
}
