package pload

import (
	"bytes"
	"encoding/hex"
	"math/bits"
	"strings"
	"testing"
)

func TestCodecBytes(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		// id 0x00040000, pad, size 24, pad, count 20000, size 300
		{"start", EncodeStart(Start{Count: 20000, Size: 300}),
			"00000400" + "00000000" + "18000000" + "00000000" + "204e0000" + "2c010000"},
		// id 0x00040001, size claims 16+20 = 36, 20 bytes sent
		{"mcast 20", EncodeMcast(20), "01000400" + "00000000" + "24000000" + "00000000" + "00000000"},
		// below the header size corosync still sends the whole header
		{"mcast 4", EncodeMcast(4), "01000400" + "00000000" + "14000000" + "00000000"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(tc.got); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if n := len(EncodeMcast(300)); n != 300 {
		t.Errorf("mcast of size 300 is %d bytes", n)
	}
}

func swap32s(b []byte, offs ...int) []byte {
	b = bytes.Clone(b)
	for _, o := range offs {
		v := bits.ReverseBytes32(le.Uint32(b[o:]))
		le.PutUint32(b[o:], v)
	}
	return b
}

func TestDecode(t *testing.T) {
	start := EncodeStart(Start{Count: 7, Size: 1000})
	garbageSize := bytes.Clone(start)
	le.PutUint32(garbageSize[8:], 0xdeadbeef) // corosync's START leaves size uninitialised
	tests := []struct {
		name    string
		msg     []byte
		swapped bool
		fn      uint16
		st      Start
		err     string
	}{
		{"start", start, false, FnStart, Start{7, 1000}, ""},
		{"start, garbage size", garbageSize, false, FnStart, Start{7, 1000}, ""},
		{"start, other byte order", swap32s(start, 0, 8, 16, 20), true, FnStart, Start{7, 1000}, ""},
		{"mcast", EncodeMcast(300), false, FnMcast, Start{}, ""},
		{"mcast swapped", swap32s(EncodeMcast(300), 0, 8), true, FnMcast, Start{}, ""},
		{"short", start[:15], false, 0, Start{}, "shorter than its 16-byte header"},
		{"short start", start[:20], false, FnStart, Start{}, "START of 20 bytes"},
		{"other service", append([]byte{0, 0, 5, 0}, start[4:]...), false, 0, Start{}, "names service 5"},
		{"unknown fn", append([]byte{9, 0, 4, 0}, start[4:]...), false, 9, Start{}, "unknown function 9"},
	}
	for _, tc := range tests {
		fn, st, err := Decode(tc.msg, tc.swapped)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || fn != tc.fn || st != tc.st {
			t.Errorf("%s: got %d %+v %v, want %d %+v", tc.name, fn, st, err, tc.fn, tc.st)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(EncodeStart(Start{Count: 1, Size: 2}), false)
	f.Add(EncodeMcast(40), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, msg []byte, swapped bool) {
		c := New()
		out, err := c.Deliver(1, msg, swapped, 0)
		if err != nil && (out.Start != nil || out.Result != nil) {
			t.Fatalf("error %v with output %+v", err, out)
		}
		// A START, however hostile, never makes the core allocate more
		// than MaxSize for its message.
		if m, ok := c.NextSend(); ok && len(m) > int(MaxSize) {
			t.Fatalf("message of %d bytes", len(m))
		}
	})
}

func TestResultLineAsCorosync(t *testing.T) {
	// Debian 3.1.7 printed "20000 Writes 300 bytes per write 0.094
	// seconds runtime, 212421.532 TP/S, 60.774 MB/S." (addendum §6).
	r := result(20000, 300, 94152414)
	want := "20000 Writes 300 bytes per write   0.094 seconds runtime, 212421.532 TP/S,    60.774 MB/S."
	if r.Line != want {
		t.Errorf("line\n got %q\nwant %q", r.Line, want)
	}
	if one := result(1, 300, 0); !strings.Contains(one.Line, "      inf TP/S") {
		t.Errorf("one-message run: %q", one.Line)
	}
}

// ring delivers every message to every core in one order, as Totem does.
type ring struct {
	cores []*Core
	now   int64
	out   [][]Output
}

func (r *ring) deliver(t *testing.T, from uint32, msg []byte) {
	t.Helper()
	r.now += 1000
	for i, c := range r.cores {
		o, err := c.Deliver(from, msg, false, r.now)
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		r.out[i] = append(r.out[i], o)
	}
}

func TestRunOnThreeNodes(t *testing.T) {
	r := &ring{cores: []*Core{New(), New(), New()}, out: make([][]Output, 3)}
	out := r.cores[1].Configured(Settings{Count: 5, Size: 100, Start: Magic})
	if out.Start == nil || len(out.Logs) != 1 || out.Logs[0].Text != "Starting pload!" {
		t.Fatalf("configured: %+v", out)
	}
	r.deliver(t, 2, out.Start)
	// Round-robin sends, as the ring interleaves the senders.
	var results int
	for round := 0; round < 10; round++ {
		for i, c := range r.cores {
			m, ok := c.NextSend()
			if !ok {
				continue
			}
			if len(m) != 100 {
				t.Fatalf("message of %d bytes", len(m))
			}
			r.deliver(t, uint32(i+1), m)
		}
	}
	for i, outs := range r.out {
		for j, o := range outs {
			if o.Result != nil {
				results++
				// 5 counted from any sender: the 5th MCAST delivered
				// (START is message 0).
				if j != 5 || o.Result.Writes != 5 || o.Result.ElapsedNs != 4000 {
					t.Errorf("node %d: result at delivery %d: %+v", i+1, j, o.Result)
				}
			}
		}
		if r.cores[i].Running() {
			t.Errorf("node %d still running", i+1)
		}
	}
	if results != 3 {
		t.Fatalf("%d results, want one per node", results)
	}
	// Stopped: nothing more to send, later MCASTs are not counted.
	for i, c := range r.cores {
		if _, ok := c.NextSend(); ok {
			t.Errorf("node %d still sends", i+1)
		}
	}
}

func TestStartRule(t *testing.T) {
	c := New()
	if out := c.Configured(Settings{Start: Magic, Count: 10, Size: 10}); out.Start == nil {
		t.Fatal("pload.start set did not start a run")
	}
	if out := c.Configured(Settings{Start: Magic, Count: 11, Size: 10}); out.Start != nil {
		t.Fatal("a change of pload.count started a run while pload.start stayed set")
	}
	if out := c.Configured(Settings{Start: "no", Count: 11, Size: 10}); out.Start != nil {
		t.Fatal("wrong start value started a run")
	}
	out := c.Configured(Settings{Start: Magic, Count: 11, Size: 2 << 20})
	if out.Start == nil {
		t.Fatal("pload.start set anew did not start a run")
	}
	_, st, _ := Decode(out.Start, false)
	if st != (Start{Count: 11, Size: MaxSize}) || out.Logs[0].Text != "pload size limited to 1048576" {
		t.Fatalf("start %+v logs %+v", st, out.Logs)
	}
	// Running: a second START is ignored, a refused START changes nothing.
	if _, err := c.Deliver(1, out.Start, false, 1); err != nil || !c.Running() {
		t.Fatalf("run not started: %v", err)
	}
	if o, _ := c.Deliver(2, EncodeStart(Start{Count: 99, Size: 1}), false, 2); len(o.Logs) != 1 || !strings.Contains(o.Logs[0].Text, "ignored") {
		t.Fatalf("second START: %+v", o)
	}
	if _, _, w := c.Progress(); w != 11 {
		t.Fatalf("wanted %d after a second START", w)
	}
	d := New()
	for _, st := range []Start{{Count: 0, Size: 10}, {Count: 5, Size: MaxSize + 1}} {
		if o, _ := d.Deliver(1, EncodeStart(st), false, 0); d.Running() || len(o.Logs) != 1 || o.Logs[0].Level != Warning {
			t.Errorf("START %+v: running %v logs %+v", st, d.Running(), o.Logs)
		}
	}
}
