package cfg

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// seedCaptures seeds a fuzz target with every recorded real message.
func seedCaptures(f *testing.F) {
	for _, c := range loadCaptures(f) {
		f.Add(c.msg)
	}
}

// FuzzDecodeRequest: any bytes from a client decode or fail cleanly, and
// what decodes re-encodes to something that decodes the same.
func FuzzDecodeRequest(f *testing.F) {
	seedCaptures(f)
	f.Add(KillNodeRequest{NodeID: 1, Reason: "x"}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		r2, err := DecodeRequest(r.Encode())
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", r, err)
		}
		if k, ok := r.(KillNodeRequest); ok {
			k2 := r2.(KillNodeRequest)
			// A 256-byte reason without NUL is cut to 255 on encoding.
			if k.Reason[:min(len(k.Reason), MaxNameLen-1)] != k2.Reason || k.NodeID != k2.NodeID {
				t.Fatalf("kill request changed: %#v → %#v", k, k2)
			}
		} else if r != r2 {
			t.Fatalf("%#v re-decoded as %#v", r, r2)
		}
	})
}

// FuzzDecodeExec: any delivered ring message decodes or fails cleanly.
func FuzzDecodeExec(f *testing.F) {
	for _, m := range []Exec{ShutdownExec{}, KillNodeExec{NodeID: 2, Reason: "r"}, ReloadConfigExec{Source{1, 2}}, CryptoReconfigExec{1}, RingReenableExec{}} {
		f.Add(m.Encode(), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := DecodeExec(b, swapped)
		if err != nil {
			return
		}
		if !swapped {
			if _, err := DecodeExec(m.Encode(), false); err != nil {
				t.Fatalf("re-encoded %T does not decode: %v", m, err)
			}
		}
	})
}

// FuzzDecodeResponses: the client's decoders accept or reject any bytes
// from a server without panicking.
func FuzzDecodeResponses(f *testing.F) {
	seedCaptures(f)
	f.Add(NodeStatusResponse{Error: cs.OK, Status: NodeStatus{Version: 1}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeRespHeader(b)
		DecodeBareResponse(b, RespTryShutdown)
		DecodeRingStatusResponse(b)
		DecodeLocalGetResponse(b)
		DecodeNodeStatusResponse(b)
		DecodeTestShutdownEvent(b)
		if r, err := DecodeNodeAddrsResponse(b); err == nil && len(r.Addrs) > r.Slots {
			t.Fatalf("%d addresses in %d slots", len(r.Addrs), r.Slots)
		}
	})
}

// FuzzService: arbitrary requests, deliveries and timer events on a few
// connections never panic, and every request gets exactly one response
// unless it is one of the deferred kinds.
func FuzzService(f *testing.F) {
	seedCaptures(f)
	f.Add(TryShutdownRequest{ShutdownRequest}.Encode())
	f.Fuzz(func(t *testing.T, script []byte) {
		s := New(newFakeNode())
		for c := ConnID(1); c <= 3; c++ {
			s.Connect(c)
		}
		// The script is a sequence of operations: op byte, conn byte, then
		// a message of the captured/fuzzed kind.
		for len(script) >= 2 {
			op, c := script[0]%6, ConnID(script[1]%3+1)
			script = script[2:]
			n := min(len(script), 300)
			msg := script[:n]
			switch op {
			case 0:
				acts, _ := s.Request(c, msg)
				checkResponses(t, msg, c, acts)
			case 1:
				s.Deliver(uint32(c), msg, false)
			case 2:
				s.TimerExpired(uint64(c))
			case 3:
				s.Disconnect(c)
				s.Connect(c)
			case 4:
				s.ReloadDone(uint64(c), cs.OK, c == 2)
			case 5:
				for _, r := range []Request{TrackStartRequest{}, TryShutdownRequest{ShutdownFlags(c - 1)}, ReplyToShutdownRequest{uint32(c) & 1}, BareRequest{ReqTrackStop}} {
					acts, _ := s.Request(c, r.Encode())
					checkResponses(t, r.Encode(), c, acts)
				}
			}
			script = script[n:]
		}
	})
}

// checkResponses: an immediate request is answered exactly once, on its
// own connection.
func checkResponses(t *testing.T, msg []byte, c ConnID, acts []Action) {
	t.Helper()
	var id int32 = -1
	if len(msg) >= 4 {
		id = int32(le.Uint32(msg))
	}
	own := 0
	for _, a := range acts {
		r, ok := a.(Respond)
		if !ok || r.Conn != c {
			continue
		}
		h, err := DecodeRespHeader(r.Msg)
		if err != nil {
			t.Fatalf("bad response: %v", err)
		}
		// A vote by the requester itself may also release its own
		// deferred TRYSHUTDOWN answer: count only this request's kind.
		if h.ID == 0 || id >= 0 && id < numReqs && h.ID == respFor[id] {
			own++
		}
	}
	deferred := id == int32(ReqReloadConfig) || id == int32(ReqReopenLogFiles) || id == int32(ReqTryShutdown)
	if own > 1 || (own == 0 && !deferred) {
		t.Fatalf("request %x got %d responses", msg[:min(len(msg), 24)], own)
	}
}
