package pg

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// captureArgs are the libcpg client's arguments (testdata/README.md).
const captureArgs = `1384 sleep 10 10 10 10 10 100 200 300 400 500 600 700 800 900 1000 1100
	1200 1300 1400 1500 sleep 5000 sleep 70000 sleep 37 37 1384 40 2000 3 1395
	7 1211 1212 1213 1214 sleep 200000 20 30`

// W3 MCAST fields used here (spec/totem.md §3.1, §4.3).
const (
	w3Type         = 3
	w3Encapsulated = 4
	w3Seq          = 17
	w3McastHeader  = 45
	cpgMcastHeader = 184 // req_exec_cpg_mcast on x86_64; msglen at 152
)

// capturedFrames returns the totempg frames of the capture's normal MCAST
// messages in sequence order.
func capturedFrames(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/corosync-3.1.7-cpg-udpu.cap.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	lastSeq := uint32(0)
	for len(raw) > 0 {
		n := int(le.Uint32(raw))
		dgram := raw[4 : 4+n]
		raw = raw[4+n:]
		if dgram[w3Type] != 1 || dgram[w3Encapsulated] != 2 {
			continue
		}
		seq := le.Uint32(dgram[w3Seq:])
		if seq <= lastSeq {
			continue // a retransmission
		}
		if seq != lastSeq+1 && lastSeq != 0 {
			t.Fatalf("capture has a gap: seq %d after %d", seq, lastSeq)
		}
		lastSeq = seq
		frames = append(frames, dgram[w3McastHeader:])
	}
	return frames
}

// capMsg is one message reassembled from the capture.
type capMsg struct {
	group string
	body  []byte
}

// TestCaptureReassembly feeds real corosync 3.1.7 frames to the Receiver:
// every cpg message the client sent must come out whole, in order.
func TestCaptureReassembly(t *testing.T) {
	frames := capturedFrames(t)
	msgs := reassembleCapture(t, frames)

	var want [][]byte
	for i, a := range strings.Fields(captureArgs) {
		if a == "sleep" {
			continue
		}
		n, _ := strconv.Atoi(a)
		b := make([]byte, n)
		for k := range b {
			b[k] = byte((i+1)*31 + k*7)
		}
		want = append(want, b)
	}
	var got [][]byte
	for _, m := range msgs {
		if m.group != GroupServices {
			continue
		}
		h, err := DecodeExecHeader(m.body, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.CheckSize(len(m.body)); err != nil {
			t.Fatal(err)
		}
		if h.Service != ServiceCpg || h.Fn != 3 { // MESSAGE_REQ_EXEC_CPG_MCAST
			continue
		}
		msglen := int(le.Uint32(m.body[152:]))
		if cpgMcastHeader+msglen != len(m.body) {
			t.Fatalf("cpg mcast of %d bytes says msglen %d", len(m.body), msglen)
		}
		got = append(got, m.body[cpgMcastHeader:])
	}
	if len(got) != len(want) {
		t.Fatalf("reassembled %d cpg messages, client sent %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("cpg message %d: %d bytes differ from the %d sent", i, len(got[i]), len(want[i]))
		}
	}
}

func reassembleCapture(t *testing.T, frames [][]byte) []capMsg {
	t.Helper()
	var msgs []capMsg
	var g Groups
	for _, name := range []string{GroupServices, GroupSync} {
		_ = g.Join(func(_ uint32, body []byte, _ bool) {
			msgs = append(msgs, capMsg{name, bytes.Clone(body)})
		}, name)
	}
	r := NewReceiver(g.Deliver)
	for i, f := range frames {
		if err := r.Receive(1, f, false); err != nil {
			t.Fatalf("captured frame %d: %v", i, err)
		}
	}
	if st := r.Stats(); st.Broken+st.BadFrames+st.Oversize != 0 || g.Stats().Unmatched != 0 {
		t.Fatalf("receiver %+v groups %+v", st, g.Stats())
	}
	return msgs
}

// TestCapturePacking re-packs the captured messages with corosync's iovec
// boundaries (Send adds the group lengths and name; cpg passes its header
// and the data as two more) and checks that the
// Packer emits the very same frames, byte for byte. Token arrivals are not
// in the capture, so the test flushes exactly when corosync's next frame is
// a flush of what is staged.
func TestCapturePacking(t *testing.T) {
	frames := capturedFrames(t)
	msgs := reassembleCapture(t, frames)
	q := &fifo{cap: queueMax}
	p := newTestPacker(t, DefaultNetMTU, q)
	flushIfNext := func() {
		if p.st.count == 0 || len(q.frames) >= len(frames) {
			return
		}
		f, err := ParseFrame(frames[len(q.frames)], false)
		if err != nil {
			t.Fatal(err)
		}
		if f.Fragmented == 0 && f.Continuation == p.st.cont && int(f.Count) == p.st.count {
			p.Flush()
		}
	}
	for i, m := range msgs {
		flushIfNext()
		iov := [][]byte{m.body}
		if h, err := DecodeExecHeader(m.body, false); err == nil && m.group == GroupServices &&
			h.Service == ServiceCpg && h.Fn == 3 {
			iov = [][]byte{m.body[:cpgMcastHeader], m.body[cpgMcastHeader:]}
		}
		if err := p.Send([]string{m.group}, iov...); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	flushIfNext()
	if len(q.frames) != len(frames) {
		t.Fatalf("packed %d frames, corosync sent %d", len(q.frames), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(q.frames[i], frames[i]) {
			t.Fatalf("frame %d differs:\n ours % x\n real % x", i, head(q.frames[i]), head(frames[i]))
		}
	}
	t.Logf("%d messages, %d frames identical to corosync 3.1.7", len(msgs), len(frames))
}

func head(b []byte) []byte { return b[:min(len(b), 32)] }
