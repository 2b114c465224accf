package qbipc

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sampleParked is a valid Parked of transport tr on fake files.
func sampleParked(t testing.TB, tr Transport) *Parked {
	p := &Parked{ID: 7, Creds: Creds{PID: 4242, UID: 189, GID: 190}, MaxMsg: DefaultMaxMsgSize, Transport: tr,
		Stats:   ConnStats{Requests: 11, Responses: 10, Events: 9, SendRetries: 3, FlowControl: 1, FlowControlCount: 2},
		service: "cpg", tr: parkedTransport{dir: "/dev/shm/qb-100-4242-11-abcdef"},
		events: [][]byte{numberedEvent(0, 4), numberedEvent(1, 100)}, files: fakeFiles(t, tr)}
	if tr == SHM {
		p.tr.credits, p.tr.owed = 2, 3
	} else {
		p.tr.reqConnected = true
	}
	for _, ev := range p.events {
		p.Stats.EventsQueued++
		p.Stats.EventsQueuedBytes += eventCost(ev)
	}
	t.Cleanup(p.Close)
	return p
}

// realParked is a connection parked by a real handover, with events
// queued: its client reads none.
func realParked(t testing.TB, tr Transport) *Parked {
	ctx := testCtx(t)
	h := newHandoverHandler()
	s := startServer(t, tr, h, nil)
	c := dial(t, s.service)
	if _, err := c.Request(ctx, eventsReq(3, 8)); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Handover()
	if err != nil || len(ps) != 1 {
		t.Fatalf("Handover: %d, %v", len(ps), err)
	}
	t.Cleanup(ps[0].Close)
	return ps[0]
}

// sameParked compares everything but the files, which it counts.
func sameParked(t *testing.T, got, want *Parked) {
	t.Helper()
	g, w := *got, *want
	if len(g.files) != len(w.files) {
		t.Fatalf("%d files, want %d", len(g.files), len(w.files))
	}
	g.files, w.files = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("decoded %+v\nwant    %+v", g, w)
	}
}

// TestParkedRoundTrip: what Encode writes, DecodeParked reads back as it
// was (the files through SCM_RIGHTS), and encodes to the same bytes.
func TestParkedRoundTrip(t *testing.T) {
	for _, tr := range transports {
		for _, src := range []struct {
			name string
			make func(testing.TB, Transport) *Parked
		}{{"sample", sampleParked}, {"handed over", realParked}} {
			t.Run(tr.String()+"/"+src.name, func(t *testing.T) {
				p := src.make(t, tr)
				state, files, err := p.Encode()
				if err != nil {
					t.Fatal(err)
				}
				q, err := DecodeParked(state, passFiles(t, files))
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close()
				sameParked(t, q, p)
				again, _, err := q.Encode()
				if err != nil || !bytes.Equal(again, state) {
					t.Fatalf("encoding again: %v, equal %v", err, bytes.Equal(again, state))
				}
				q.Close()
				if _, _, err := q.Encode(); err == nil {
					t.Fatal("Encode of a closed Parked succeeded")
				}
			})
		}
	}
}

// TestDecodeParkedRejects: every field is checked, errors say which, and
// the files are closed on every error.
func TestDecodeParkedRejects(t *testing.T) {
	regular := func(t testing.TB, tr Transport) []*os.File {
		fs := fakeFiles(t, tr)
		fs[0].Close()
		fs[0] = fakeFiles(t, SHM)[1] // a memfd where the setup socket goes
		return fs
	}
	dgramSetup := func(t testing.TB, tr Transport) []*os.File {
		fs := fakeFiles(t, tr)
		fs[0].Close()
		fs[0] = fakeFiles(t, Socket)[2]
		return fs
	}
	socketRing := func(t testing.TB, tr Transport) []*os.File {
		fs := fakeFiles(t, tr)
		fs[1].Close()
		fs[1] = fakeFiles(t, Socket)[2]
		return fs
	}
	short := func(t testing.TB, tr Transport) []*os.File {
		fs := fakeFiles(t, tr)
		fs[len(fs)-1].Close()
		return fs[:len(fs)-1]
	}
	withNil := func(t testing.TB, tr Transport) []*os.File {
		fs := fakeFiles(t, tr)
		fs[2].Close()
		fs[2] = nil
		return fs
	}
	for _, tc := range []struct {
		name  string
		tr    Transport
		edit  func(p *Parked)
		raw   func(b []byte) []byte
		files func(testing.TB, Transport) []*os.File
		want  string
	}{
		{name: "empty", raw: func([]byte) []byte { return nil }, want: "magic: 4 bytes needed, 0 left"},
		{name: "magic", raw: func(b []byte) []byte { b[0] = 'X'; return b }, want: `magic "XBPK"`},
		{name: "version", raw: func(b []byte) []byte { b[4] = 2; return b }, want: "version 2, want 1"},
		{name: "id 0", edit: func(p *Parked) { p.ID = 0 }, want: "connection id 0"},
		{name: "transport", edit: func(p *Parked) { p.Transport = 5 }, want: "unknown transport 5"},
		{name: "max_msg small", edit: func(p *Parked) { p.MaxMsg = 100 }, want: "max_msg_size 100 not in"},
		{name: "max_msg huge", edit: func(p *Parked) { p.MaxMsg = 1 << 30 }, want: "max_msg_size 1073741824 not in"},
		{name: "flow control", edit: func(p *Parked) { p.Stats.FlowControl = 3 }, want: "flow-control level 3"},
		{name: "negative flow control", edit: func(p *Parked) { p.Stats.FlowControl = -1 }, want: "flow-control level -1"},
		{name: "no service", edit: func(p *Parked) { p.service = "" }, want: `service ""`},
		{name: "service with slash", edit: func(p *Parked) { p.service = "a/b" }, want: `service "a/b"`},
		{name: "relative dir", edit: func(p *Parked) { p.tr.dir = "dev/shm/qb-1" }, want: "connection directory"},
		{name: "unclean dir", edit: func(p *Parked) { p.tr.dir = "/dev/shm/../etc/qb-1" }, want: "connection directory"},
		{name: "not a qb dir", edit: func(p *Parked) { p.tr.dir = "/etc" }, want: "connection directory"},
		{name: "names too long", edit: func(p *Parked) { p.tr.dir = "/dev/shm/qb-" + strings.Repeat("x", 90) }, want: "byte names, over 107"},
		{name: "credits", edit: func(p *Parked) { p.tr.credits = 1 << 30 }, want: "notification counts"},
		{name: "owed", edit: func(p *Parked) { p.tr.owed = 1 << 30 }, want: "notification counts"},
		{name: "socket flags", tr: Socket, raw: func(b []byte) []byte {
			i := len(b) - 4 - 2*(4+RespHeaderSize) - 4 - 100 - 1 // flags, before the events
			b[i] |= 4
			return b
		}, want: "socket flags 0x5: unknown bits"},
		{name: "short event", edit: func(p *Parked) { p.events[0] = p.events[0][:10] }, want: "event 0: 10 bytes, not in 24.."},
		{name: "event over max_msg", edit: func(p *Parked) {
			p.events[0] = NewResponse(1, 1, DefaultMaxMsgSize)
		}, want: "event 0: 1048600 bytes, not in"},
		{name: "event size field", edit: func(p *Parked) { le.PutUint32(p.events[0][8:], 99) }, want: "event 0: header size 99, but 28 bytes"},
		{name: "event count", raw: func(b []byte) []byte {
			i := len(b) - 2*4 - 28 - 124 - 4
			le.PutUint32(b[i:], 1<<31)
			return b
		}, want: "event count 2147483648: more than"},
		{name: "event cut", raw: func(b []byte) []byte { return b[:len(b)-1] }, want: "event 1: event: 124 bytes needed, 123 left"},
		{name: "trailing byte", raw: func(b []byte) []byte { return append(b, 0) }, want: "1 bytes after the last event"},
		{name: "too few files", files: short, want: "6 files, want 7 for the shm transport"},
		{name: "too few socket files", tr: Socket, files: short, want: "3 files, want 4 for the socket transport"},
		{name: "regular file as setup socket", files: regular, want: "file 0 (setup socket): mode"},
		{name: "datagram setup socket", files: dgramSetup, want: "file 0 (setup socket): socket of family 1 type 2, want unix (1) type 1"},
		{name: "socket as ring", files: socketRing, want: "file 1 (request ring header): mode"},
		{name: "regular file as request socket", tr: Socket, files: func(t testing.TB, tr Transport) []*os.File {
			fs := fakeFiles(t, tr)
			fs[2].Close()
			fs[2] = fakeFiles(t, SHM)[1]
			return fs
		}, want: "file 2 (request socket): mode"},
		{name: "nil file", files: withNil, want: "file 2 (request ring data): nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sampleParked(t, tc.tr)
			if tc.edit != nil {
				tc.edit(p)
			}
			state := p.appendState(nil)
			if tc.raw != nil {
				state = tc.raw(state)
			}
			files := fakeFiles(t, tc.tr)
			if tc.files != nil {
				closeFiles(files)
				files = tc.files(t, tc.tr)
			}
			q, err := DecodeParked(state, files)
			if err == nil {
				q.Close()
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "qbipc: decode parked connection: ") {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			for i, f := range files {
				if f != nil && !errors.Is(f.Close(), os.ErrClosed) {
					t.Errorf("file %d left open", i)
				}
			}
		})
	}
}

// TestDecodeParkedTruncated: no prefix of an encoding is accepted.
func TestDecodeParkedTruncated(t *testing.T) {
	for _, tr := range transports {
		state := sampleParked(t, tr).appendState(nil)
		for n := range len(state) {
			q, err := DecodeParked(state[:n], fakeFiles(t, tr))
			if err == nil {
				q.Close()
				t.Fatalf("%v: %d of %d bytes accepted", tr, n, len(state))
			}
		}
	}
}

// FuzzDecodeParked: DecodeParked never panics, allocates within bounds,
// closes the files when it refuses, and what it accepts encodes to the
// same bytes and passes the checks Encode makes.
func FuzzDecodeParked(f *testing.F) {
	for _, tr := range transports {
		for _, p := range []*Parked{sampleParked(f, tr), realParked(f, tr)} {
			state, _, err := p.Encode()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(state, tr == Socket)
			f.Add(state[:len(state)/2], tr == Socket)
		}
	}
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, state []byte, sock bool) {
		tr := SHM
		if sock {
			tr = Socket
		}
		var p *Parked
		var files []*os.File
		var err error
		boundedAlloc(t, "DecodeParked", len(state), func() {
			if p != nil {
				p.Close() // accepted by an earlier run of this function
			}
			files = fakeFiles(t, tr)
			p, err = DecodeParked(state, files)
		})
		if err != nil {
			for i, f := range files {
				if !errors.Is(f.Close(), os.ErrClosed) {
					t.Fatalf("refused (%v) but file %d left open", err, i)
				}
			}
			return
		}
		defer p.Close()
		again, got, err := p.Encode()
		if err != nil || !bytes.Equal(again, state) || len(got) != len(files) {
			t.Fatalf("accepted, but encodes again to other bytes or fails: %v", err)
		}
	})
}

// TestPassFilesKeepsSockets: passFiles gives working descriptors (the
// other tests rely on it).
func TestPassFilesKeepsSockets(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(sp[0]), "a"), os.NewFile(uintptr(sp[1]), "b")
	defer b.Close()
	got := passFiles(t, []*os.File{a})
	a.Close()
	defer got[0].Close()
	if _, err := got[0].Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if n, err := b.Read(buf); n != 1 || err != nil {
		t.Fatalf("read %d %v", n, err)
	}
}
