package qbipc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// TestHostileClients: a client that sends garbage or truncates its files is
// dropped; the server and a well-behaved client carry on.
func TestHostileClients(t *testing.T) {
	type attack struct {
		name string
		tr   Transport
		do   func(t *testing.T, c *Client) // afterwards the server must drop c
	}
	notify := func(t *testing.T, c *Client) {
		if _, err := c.setup.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	shmRings := func(c *Client) *shmClient { return c.t.(*shmClient) }
	attacks := []attack{
		{"size field lies", SHM, func(t *testing.T, c *Client) {
			b := NewRequest(0, 8)
			le.PutUint32(b[8:], 9999)
			shmRings(c).rq.Write(b)
			notify(t, c)
		}},
		{"chunk beyond max_msg_size", SHM, func(t *testing.T, c *Client) {
			shmRings(c).rq.Write(NewRequest(0, c.MaxMsgSize()+100-ReqHeaderSize))
			notify(t, c)
		}},
		{"reserved id", SHM, func(t *testing.T, c *Client) {
			shmRings(c).rq.Write(NewRequest(-2, 0))
			notify(t, c)
		}},
		{"corrupt ring pointers", SHM, func(t *testing.T, c *Client) {
			shmRings(c).rq.Write(echoReq([]byte("x")))
			hdr, err := os.OpenFile(shmRings(c).rq.HdrPath, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			hdr.WriteAt([]byte{0xff, 0xff, 0xff, 0x7f}, 4) // read_pt
			hdr.Close()
			notify(t, c)
		}},
		{"truncated response ring", SHM, func(t *testing.T, c *Client) {
			os.Truncate(shmRings(c).rs.DataPath, 0)
			os.Truncate(shmRings(c).rs.HdrPath, 0)
			shmRings(c).rq.Write(echoReq([]byte("answer me")))
			notify(t, c)
		}},
		{"truncated request ring", SHM, func(t *testing.T, c *Client) {
			shmRings(c).rq.Write(echoReq([]byte("x")))
			os.Truncate(shmRings(c).rq.DataPath, 0)
			notify(t, c)
		}},
		{"handler error", SHM, func(t *testing.T, c *Client) {
			c.Call(testCtx(t), NewRequest(opFail, 0), CallOptions{NoResponse: true})
		}},
		{"size field lies", Socket, func(t *testing.T, c *Client) {
			b := NewRequest(0, 8)
			le.PutUint32(b[8:], 9999)
			c.t.(*sockClient).req.Write(b)
		}},
		{"datagram beyond max_msg_size", Socket, func(t *testing.T, c *Client) {
			c.t.(*sockClient).req.Write(NewRequest(0, c.MaxMsgSize()+100-ReqHeaderSize))
		}},
		{"runt datagram", Socket, func(t *testing.T, c *Client) {
			c.t.(*sockClient).req.Write([]byte{1, 2, 3})
		}},
		{"truncated control file", Socket, func(t *testing.T, c *Client) {
			os.Truncate(c.t.(*sockClient).ctl.Path, 0)
			// Our client would fault on the flag itself; send directly.
			c.t.(*sockClient).req.Write(NewRequest(opFlowCtl, 4))
		}},
	}
	for _, a := range attacks {
		t.Run(a.tr.String()+"/"+a.name, func(t *testing.T) {
			ctx := testCtx(t)
			h := newEchoHandler()
			ts := startServer(t, a.tr, h, nil)
			good := dial(t, ts.service)
			bad := dial(t, ts.service)
			var badID uint64
			for _, c := range ts.Conns() {
				badID = max(badID, c.ID())
			}
			a.do(t, bad)
			if id := waitDisconnect(t, h); id != badID {
				t.Fatalf("dropped connection %d, want %d", id, badID)
			}
			for i := 0; i < 10; i++ {
				if r, err := good.Request(ctx, echoReq([]byte("still here"))); err != nil || !bytes.HasSuffix(r, []byte("still here")) {
					t.Fatalf("bystander: %v", err)
				}
			}
			if _, err := bad.Request(ctx, echoReq(nil)); err == nil {
				t.Fatal("dropped client still served")
			}
			bad.Close()
			good.Close()
			waitDisconnect(t, h)
			ts.waitEmpty(t)
		})
	}
}

// TestNotificationFlood: notification bytes without chunks are tolerated.
func TestNotificationFlood(t *testing.T) {
	h := newEchoHandler()
	ts := startServer(t, SHM, h, nil)
	c := dial(t, ts.service)
	c.setup.Write(make([]byte, 500))
	if r, err := c.Request(testCtx(t), echoReq([]byte("ok"))); err != nil || !bytes.HasSuffix(r, []byte("ok")) {
		t.Fatalf("after flood: %v", err)
	}
}

// TestHandshakeGarbage: bad connection requests are closed without an
// answer, and a silent client is cut off after the handshake timeout.
func TestHandshakeGarbage(t *testing.T) {
	h := newEchoHandler()
	ts := startServer(t, SHM, h, func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	addr, _ := abstractAddr(ts.service, "unix")
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"wrong id", bytes.Repeat([]byte{0x41}, connReqSize)},
		{"short then close", []byte{0xff, 0xff, 0xff, 0xff, 0, 0}},
		{"silent", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uc, err := net.DialUnix("unix", nil, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer uc.Close()
			if tc.send != nil {
				uc.Write(tc.send)
			}
			if tc.name == "short then close" {
				uc.CloseWrite()
			}
			uc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.ReadFull(uc, make([]byte, 1))
			if n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("got %d bytes, %v; want EOF", n, err)
			}
		})
	}
	if conn, _ := h.counts(); conn != 0 {
		t.Fatalf("Connect called %d times", conn)
	}
	if left := ts.leftovers(t); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
	dial(t, ts.service) // still serving
}

// TestServerClose: a graceful close (server shutdown or dropping one
// client) ends a client's wait for events at once, in both transports.
func TestServerClose(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c1 := dial(t, ts.service)
			c2 := dial(t, ts.service)
			wait := func(c *Client) chan error {
				ch := make(chan error, 1)
				go func() {
					_, err := c.ReadEvent(context.Background())
					ch <- err
				}()
				return ch
			}
			expectGone := func(ch chan error) {
				select {
				case err := <-ch:
					if !errors.Is(err, ErrDisconnected) {
						t.Fatalf("ReadEvent: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("client did not notice")
				}
			}
			ch1, ch2 := wait(c1), wait(c2)
			time.Sleep(20 * time.Millisecond)
			for _, c := range ts.Conns() {
				if c.ID() == 1 {
					c.Close()
				}
			}
			expectGone(ch1)
			ts.stop(t)
			expectGone(ch2)
			if _, err := c2.Request(context.Background(), echoReq(nil)); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("request after shutdown: %v", err)
			}
			c1.Close()
			c2.Close()
			ts.waitEmpty(t)
		})
	}
}

// TestFilesystemSockets: with libqb's flag file present the server also
// listens on SocketDir/<service>, which a client honouring the flag uses.
func TestFilesystemSockets(t *testing.T) {
	dir := t.TempDir()
	flag := dir + "/force-filesystem-sockets"
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newEchoHandler()
	ts := startServer(t, SHM, h, func(c *Config) { c.flagFile, c.socketDir = flag, dir })
	st, err := os.Stat(dir + "/" + ts.service)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o777 {
		t.Fatalf("filesystem socket: %v %v", st, err)
	}
	c, err := Dial(testCtx(t), ts.service, DialOptions{flagFile: flag, socketDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Request(testCtx(t), echoReq(nil)); err != nil {
		t.Fatal(err)
	}
	ts.stop(t)
	if _, err := os.Stat(dir + "/" + ts.service); !os.IsNotExist(err) {
		t.Fatalf("socket file left: %v", err)
	}
}

var _ = shmring.ErrFault

// TestSpoofedRequests: in socket mode, datagrams to a connection's request
// socket from anyone but its client are ignored.
func TestSpoofedRequests(t *testing.T) {
	h := newEchoHandler()
	ts := startServer(t, Socket, h, nil)
	c := dial(t, ts.service)
	ctx := testCtx(t)
	sc := c.t.(*sockClient)
	// Go reports abstract names without their padding: pad again.
	target, err := abstractAddr(strings.TrimPrefix(sc.req.RemoteAddr().String(), "@"), "unixgram")
	if err != nil {
		t.Fatal(err)
	}
	spoof := func() error {
		s, err := net.DialUnix("unixgram", nil, target)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Write(echoReq([]byte("spoofed")))
		return err
	}
	if err := spoof(); err != nil {
		t.Fatalf("spoof before the first request: %v", err)
	}
	for i := 0; i < 3; i++ {
		r, err := c.Request(ctx, echoReq([]byte("mine")))
		if err != nil || !bytes.HasSuffix(r, []byte("mine")) {
			t.Fatalf("round %d: %q %v", i, r, err)
		}
		if err := spoof(); err == nil {
			t.Fatal("the kernel let a stranger write to a connected request socket")
		}
	}
}

// TestSlowEventReader: a client that never reads its events is dropped
// after the stall timeout, or at once when its queue passes the limit.
func TestSlowEventReader(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String()+"/stall", func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, func(c *Config) { c.EventStallTimeout = 200 * time.Millisecond })
			c := dial(t, ts.service)
			// 8 MiB of events: more than the ring or socket buffers hold.
			if _, err := c.Request(testCtx(t), eventsReq(4000, 2048)); err != nil {
				t.Fatal(err)
			}
			// Some events may not have been handed to the transport yet
			// when the stats are read; all 4000 are either sent or queued.
			if st := ts.Conns()[0].Stats(); st.EventsQueued == 0 || st.Events+uint64(st.EventsQueued) != 4000 {
				t.Errorf("stats while stalled: %+v", st)
			}
			waitDisconnect(t, h)
		})
		t.Run(tr.String()+"/queue limit", func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, func(c *Config) { c.EventQueueBytes = 64 << 10 })
			c := dial(t, ts.service)
			c.Request(testCtx(t), eventsReq(20000, 2048))
			waitDisconnect(t, h)
		})
	}
}
