package cfg

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// captured is one message recorded from real corosync 3.1.7 and libcfg
// (testdata/real, see the header of each file).
type captured struct {
	file, svc, kind string
	msg             []byte
}

func loadCaptures(t testing.TB) []captured {
	t.Helper()
	files, err := filepath.Glob("testdata/real/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out []captured
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || line == "" {
				continue
			}
			fields := strings.Fields(line)
			if len(fields) != 3 {
				t.Fatalf("%s: bad line %q", f, line)
			}
			b, err := hex.DecodeString(fields[2])
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, captured{filepath.Base(f), fields[0], fields[1], b})
		}
		fh.Close()
	}
	return out
}

// zero clears b[from:to] (padding the C side leaves uninitialised).
func zero(b []byte, from, to int) {
	for i := from; i < to && i < len(b); i++ {
		b[i] = 0
	}
}

// zeroAfterNUL clears what follows the C string in a fixed field.
func zeroAfterNUL(f []byte) {
	if i := bytes.IndexByte(f, 0); i >= 0 {
		zero(f, i, len(f))
	}
}

// canonRequest zeroes the padding and the stack garbage libcfg leaves in
// a request, which needle writes as zeros.
func canonRequest(b []byte) []byte {
	c := bytes.Clone(b)
	zero(c, 4, 8)
	zero(c, 12, 16)
	switch ReqID(le.Uint32(c)) {
	case ReqKillNode:
		zero(c, 20, 24)
		zeroAfterNUL(c[26:282])
		zero(c, 282, 288)
	case ReqTryShutdown, ReqReplyToShutdown, ReqGetNodeAddrs:
		zero(c, 20, 24)
	case ReqTrackStart:
		zero(c, 17, 24)
	case ReqNodeStatusGet:
		zero(c, 20, 24)
		zero(c, 28, 32)
	}
	return c
}

// canonResponse does the same for corosync's responses.
func canonResponse(b []byte, id RespID) []byte {
	c := bytes.Clone(b)
	zero(c, 4, 8)
	zero(c, 12, 16)
	zero(c, 20, 24)
	switch id {
	case RespLocalGet, RespTestShutdown:
		zero(c, 28, 32)
	case RespNodeStatusGet:
		zero(c, 38, 40)
		for i := 0; i < MaxLinks; i++ {
			zero(c, 40+i*linkSize+3, 40+i*linkSize+4)
		}
	case RespRingStatusGet:
		zero(c, 28, 32)
		for i := 0; i < MaxInterfaces; i++ {
			zeroAfterNUL(c[ringNamesOff+i*InterfaceNameLen:][:InterfaceNameLen])
			zeroAfterNUL(c[ringStatusOff+i*InterfaceStatLen:][:InterfaceStatLen])
		}
	}
	return c
}

// TestRealRequests decodes every request libcfg sent and checks that
// encoding the result gives the same bytes (padding aside).
func TestRealRequests(t *testing.T) {
	n := 0
	for _, c := range loadCaptures(t) {
		if c.svc != "cfg" || c.kind != "req" {
			continue
		}
		n++
		r, err := DecodeRequest(c.msg)
		if err != nil {
			t.Errorf("%s: decode %x: %v", c.file, c.msg, err)
			continue
		}
		if got, want := r.Encode(), canonRequest(c.msg); !bytes.Equal(got, want) {
			t.Errorf("%s: %T re-encoded differs:\n got %x\nwant %x", c.file, r, got, want)
		}
	}
	if n < 10 {
		t.Fatalf("only %d cfg requests in the captures", n)
	}
}

// TestRealResponses decodes every response and event corosync sent and
// re-encodes it: needle's daemon side must produce these bytes.
func TestRealResponses(t *testing.T) {
	n := 0
	for _, c := range loadCaptures(t) {
		if c.svc == "cmap" || c.kind != "resp" {
			continue
		}
		n++
		h, err := DecodeRespHeader(c.msg)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		var enc []byte
		switch h.ID {
		case RespRingStatusGet:
			r, err := DecodeRingStatusResponse(c.msg)
			if err != nil || r.Count != 1 || r.Interfaces[0] != (Interface{"0 127.0.0.1", "OK"}) {
				t.Errorf("%s: ring status %+v, %v", c.file, r, err)
			}
			enc = r.Encode()
		case RespLocalGet:
			r, err := DecodeLocalGetResponse(c.msg)
			if err != nil || r.NodeID != 1 {
				t.Errorf("%s: local get %+v, %v", c.file, r, err)
			}
			enc = r.Encode()
		case RespNodeStatusGet:
			r, err := DecodeNodeStatusResponse(c.msg)
			if err != nil || r.Status.Version != 1 {
				t.Errorf("%s: node status %+v, %v", c.file, r, err)
			}
			if r.Status.NodeID == 1 && (r.Status.Links[0] != LinkStatus{Enabled: 1, Connected: 1, MTU: 1410, SrcAddr: "127.0.0.1"}) {
				t.Errorf("%s: node 1 link 0 = %+v", c.file, r.Status.Links[0])
			}
			enc = r.Encode()
		case RespGetNodeAddrs:
			r, err := DecodeNodeAddrsResponse(c.msg)
			if err != nil {
				t.Errorf("%s: node addrs: %v", c.file, err)
			}
			enc = r.Encode()
			if r.Error != cs.OK {
				enc = NodeAddrsResponse{Error: r.Error}.Encode() // family/num unspecified on errors
			}
		case RespTestShutdown:
			ev, err := DecodeTestShutdownEvent(c.msg)
			if err != nil || ev != (TestShutdownEvent{cs.OK, ShutdownRequest}) {
				t.Errorf("%s: event %+v, %v", c.file, ev, err)
			}
			enc = ev.Encode()
		default:
			r, err := DecodeBareResponse(c.msg, h.ID)
			if err != nil {
				t.Errorf("%s: bare: %v", c.file, err)
			}
			enc = r.Encode()
		}
		if want := canonResponse(c.msg, h.ID); !bytes.Equal(enc, want) {
			t.Errorf("%s: response id %d re-encoded differs:\n got %x\nwant %x", c.file, h.ID, enc, want)
		}
	}
	if n < 10 {
		t.Fatalf("only %d cfg responses in the captures", n)
	}
}

// TestServiceMatchesRealDaemon replays the captured requests into the
// core, configured like the probed node, and checks that it answers what
// corosync answered.
func TestServiceMatchesRealDaemon(t *testing.T) {
	st := newFakeNode()
	st.members = map[uint32]bool{1: true}
	st.status = map[uint32]string{1: "joined"}
	delete(st.links, 2)
	delete(st.links, 3)
	for _, file := range []string{"cfgtool-s.txt", "cfgtool-a1.txt", "cfgtool-a2.txt", "cfgtool-k5.txt"} {
		var reqs, resps [][]byte
		for _, c := range loadCaptures(t) {
			if c.file != file || c.svc != "cfg" {
				continue
			}
			if c.kind == "req" {
				reqs = append(reqs, c.msg)
			} else {
				resps = append(resps, c.msg)
			}
		}
		s := svc(t, st, 1)
		for i, r := range reqs {
			acts := must(t)(s.Request(1, r))
			got := respOf(t, acts)
			h, _ := DecodeRespHeader(resps[i])
			if want := canonResponse(resps[i], h.ID); !bytes.Equal(got, want) {
				t.Errorf("%s request %d: core answered\n %x\ncorosync answered\n %x", file, i, got, want)
			}
		}
	}
}
