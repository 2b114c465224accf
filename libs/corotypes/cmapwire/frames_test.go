package cmapwire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// TestRealFrames checks every cmap message captured between Debian's
// libcmap 3.1.7 and corosync 3.1.7 (cmapd's testdata/real/ipc-frames.txt,
// made by its testdata/probe/record.sh with strace on the socket
// transport, kept beside cmapd's other recordings): each request decodes
// and re-encodes to exactly the same bytes (libcmap zeroes its requests),
// and each reply or event decodes and, built again by our encoders from
// the decoded fields, matches the real one in every byte that is not
// padding (corosync leaves stack garbage there).
func TestRealFrames(t *testing.T) {
	f, err := os.Open("../../../services/cmapd/testdata/real/ipc-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var title string
	var last Request
	reqs, replies, events := 0, 0, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			title = line[2:]
			continue
		}
		b, err := hex.DecodeString(line[2:])
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		if line[0] == '>' {
			reqs++
			r, err := DecodeRequest(b)
			if err != nil {
				t.Fatalf("%s: request %x: %v", title, b, err)
			}
			if again := r.Encode(); !bytes.Equal(again, b) {
				t.Errorf("%s: %T re-encodes to\n%x\nreal\n%x", title, r, again, b)
			}
			last = r
			continue
		}
		h, err := DecodeRespHeader(b)
		if err != nil {
			t.Fatalf("%s: reply %x: %v", title, b, err)
		}
		var ours []byte
		if h.ID == ResNotify {
			events++
			n, err := DecodeNotify(b)
			if err != nil {
				t.Fatalf("%s: event: %v", title, err)
			}
			ours = n.Encode()
		} else {
			replies++
			ours = rebuild(t, title, last, b)
		}
		if !equalMasked(ours, b, layout(h.ID)) {
			t.Errorf("%s: reply id %d\n ours %x\n real %x", title, h.ID, ours, b)
		}
	}
	if reqs < 40 || replies < 40 || events < 4 {
		t.Fatalf("only %d requests, %d replies, %d events in the capture", reqs, replies, events)
	}
}

// rebuild decodes a reply to req and encodes it again with our encoders.
func rebuild(t *testing.T, title string, req Request, b []byte) []byte {
	t.Helper()
	fail := func(err error) []byte {
		t.Fatalf("%s: reply to %T: %v", title, req, err)
		return nil
	}
	switch q := req.(type) {
	case Get:
		g, e, err := DecodeGet(b, q.BufLen)
		if err != nil {
			return fail(err)
		}
		data := g.Value
		if q.BufLen == 0 {
			data = make([]byte, g.Len) // a probe: only the length travels
		}
		return EncodeGet(q.BufLen, value.Value{Type: g.Type, Data: data}, e)
	case IterInit:
		h, e, err := DecodeHandle(b, ResIterInit)
		if err != nil {
			return fail(err)
		}
		return EncodeHandle(ResIterInit, h, e)
	case TrackAdd:
		h, e, err := DecodeHandle(b, ResTrackAdd)
		if err != nil {
			return fail(err)
		}
		return EncodeHandle(ResTrackAdd, h, e)
	case TrackDelete:
		h, e, err := DecodeHandle(b, ResTrackDelete)
		if err != nil {
			return fail(err)
		}
		return EncodeHandle(ResTrackDelete, h, e)
	case IterNext:
		ent, e, err := DecodeIterNext(b)
		if err != nil {
			return fail(err)
		}
		return EncodeIterNext(ent, e)
	}
	id := map[int32]int32{ReqSet: ResSet, ReqDelete: ResDelete, ReqAdjustInt: ResAdjustInt,
		ReqIterFinalize: ResIterFinalize, ReqSetCurrentMap: ResSetCurrentMap}[req.ID()]
	e, err := DecodeStatus(b, id)
	if err != nil {
		return fail(err)
	}
	return EncodeStatus(id, e)
}

// layout lists the byte ranges of a reply that carry fields; the rest is
// padding.
func layout(id int32) [][2]int {
	hdr := [][2]int{{0, 4}, {8, 12}, {16, 20}}
	switch id {
	case ResGet:
		return append(hdr, [2]int{24, 33}, [2]int{40, 1 << 30})
	case ResIterInit, ResTrackAdd, ResTrackDelete:
		return append(hdr, [2]int{24, 32})
	case ResIterNext:
		return append(hdr, [2]int{24, 26}, [2]int{32, 288}, [2]int{288, 297})
	case ResNotify:
		return append(hdr, [2]int{24, 34}, [2]int{40, 300}, [2]int{304, 305}, [2]int{312, 313}, [2]int{320, 1 << 30})
	}
	return hdr
}

func equalMasked(a, b []byte, ranges [][2]int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range ranges {
		hi := min(r[1], len(a))
		if r[0] < hi && !bytes.Equal(a[r[0]:hi], b[r[0]:hi]) {
			return false
		}
	}
	return true
}
