package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// fakeCore is a toy node for testing the simulator's scheduler and network,
// not a protocol: every period it multicasts a numbered frame, it counts
// what it receives, and its queue refuses every third Mcast.
type fakeCore struct {
	cfg      srp.Config
	now      srp.Time
	next     srp.Time
	armed    bool
	period   srp.Time
	ready    srp.Ready
	sent     uint32
	received map[srp.NodeID]int
	ticks    []srp.Time // when Tick was called
	due      []srp.Time // the deadline each Tick was for
	mcasts   int
	accepted int
}

func newFake(cfg srp.Config) *fakeCore {
	return &fakeCore{cfg: cfg, period: 10 * time.Millisecond, received: map[srp.NodeID]int{}}
}

func (f *fakeCore) Start(now srp.Time) {
	f.now, f.next, f.armed = now, now+f.period, true
	f.ready.PersistRingSeq = f.cfg.RingSeq + 10
}

func (f *fakeCore) Receive(now srp.Time, frame []byte) error {
	if len(frame) != 8 {
		return errors.New("fake: bad frame")
	}
	f.received[srp.NodeID(binary.LittleEndian.Uint32(frame))]++
	return nil
}

func (f *fakeCore) Tick(now srp.Time) {
	if !f.armed || now < f.next {
		return
	}
	f.ticks = append(f.ticks, now)
	f.due = append(f.due, f.next)
	f.sent++
	frame := binary.LittleEndian.AppendUint32(nil, uint32(f.cfg.Self))
	frame = binary.LittleEndian.AppendUint32(frame, f.sent)
	f.ready.Sends = append(f.ready.Sends, srp.Send{Frame: frame})
	f.next = now + f.period
}

func (f *fakeCore) NextDeadline() (srp.Time, bool) { return f.next, f.armed }

func (f *fakeCore) Mcast(now srp.Time, payload []byte) error {
	f.mcasts++
	if f.mcasts%3 == 0 {
		return srp.ErrQueueFull
	}
	f.accepted++
	return nil
}

func (f *fakeCore) Avail() int { return 1 }

func (f *fakeCore) Leave(now srp.Time) {}

func (f *fakeCore) Reform(now srp.Time) {}

func (f *fakeCore) Ready() srp.Ready {
	r := f.ready
	f.ready = srp.Ready{}
	return r
}

func (f *fakeCore) Status() srp.Status { return srp.Status{State: srp.Operational} }

// fakeFactory builds fakes and remembers every one, in order.
type fakeFactory struct{ made []*fakeCore }

func (ff *fakeFactory) build(cfg srp.Config) (srp.Interface, error) {
	f := newFake(cfg)
	ff.made = append(ff.made, f)
	return f, nil
}

func fakeRun(t *testing.T, seed uint64, trace bool) (Result, *fakeFactory, []byte) {
	t.Helper()
	ff := &fakeFactory{}
	var buf bytes.Buffer
	prof, err := LookupProfile("mixed")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Seed: seed, Nodes: 5, Profile: prof, Factory: ff.build}
	if trace {
		opts.Trace = &buf
	}
	return Run(opts), ff, buf.Bytes()
}

func TestRunIsDeterministic(t *testing.T) {
	r1, _, t1 := fakeRun(t, 7, true)
	r2, _, t2 := fakeRun(t, 7, true)
	if !bytes.Equal(t1, t2) {
		t.Fatal("two runs of seed 7 gave different traces")
	}
	if r1.Events != r2.Events || r1.End != r2.End || r1.Accepted != r2.Accepted {
		t.Fatalf("two runs of seed 7 differ: %+v vs %+v", r1, r2)
	}
	_, _, t3 := fakeRun(t, 8, true)
	if bytes.Equal(t1, t3) {
		t.Fatal("seeds 7 and 8 gave the same trace")
	}
	// Tracing must not change the run.
	r4, _, _ := fakeRun(t, 7, false)
	if r4.Events != r1.Events || r4.End != r1.End {
		t.Fatalf("trace changed the run: %d events at %v vs %d at %v", r4.Events, r4.End, r1.Events, r1.End)
	}
}

func TestTimersFireAtTheirDeadlines(t *testing.T) {
	_, ff, _ := fakeRun(t, 3, false)
	total := 0
	for _, f := range ff.made {
		for i, at := range f.ticks {
			if at != f.due[i] {
				t.Fatalf("node %d: Tick at %v for a deadline of %v", f.cfg.Self, at, f.due[i])
			}
		}
		total += len(f.ticks)
	}
	if total == 0 {
		t.Fatal("no timer ever fired")
	}
}

func TestQueueFullIsNotAccepted(t *testing.T) {
	res, ff, _ := fakeRun(t, 5, false)
	accepted, mcasts := 0, 0
	for _, f := range ff.made {
		accepted += f.accepted
		mcasts += f.mcasts
	}
	if accepted == 0 || mcasts == accepted {
		t.Fatalf("fake accepted %d of %d sends; the test needs some refusals", accepted, mcasts)
	}
	if res.Accepted != accepted {
		t.Fatalf("checker recorded %d accepted messages, the cores accepted %d", res.Accepted, accepted)
	}
}

func TestRestartLoadsPersistedRingSeqPlusOne(t *testing.T) {
	ff := &fakeFactory{}
	s := newSim(Options{Seed: 1, Nodes: 3, Factory: ff.build})
	n := s.nodes[1]
	s.start(n)
	if got := ff.made[0].cfg.RingSeq; got != 1 {
		t.Fatalf("first start with ring seq %d, want 1", got)
	}
	s.stop(n, "crash")
	s.start(n)
	if got := ff.made[1].cfg.RingSeq; got != 1+10+1 {
		t.Fatalf("restart with ring seq %d, want the persisted 11 plus one", got)
	}
	if n.inc.Num != 2 {
		t.Fatalf("restart is incarnation %d, want 2", n.inc.Num)
	}
}

func TestMulticastReachesEveryNodeIncludingSelf(t *testing.T) {
	ff := &fakeFactory{}
	s := newSim(Options{Seed: 2, Nodes: 4, Factory: ff.build})
	for _, n := range s.nodes {
		s.start(n)
	}
	s.healed, s.formBy = true, time.Hour // no probe, no faults
	for s.q.Len() > 0 && s.now < time.Second {
		e := s.q.pop()
		s.now = e.at
		switch e.kind {
		case evArrive:
			s.arrive(e)
		case evReceive:
			s.queued(e)
		case evTimer:
			s.timer(e)
		}
	}
	for _, f := range ff.made {
		for _, from := range s.ids {
			if f.received[from] < 50 {
				t.Errorf("n%d got %d frames from n%d in a lossless second, want ~100", f.cfg.Self, f.received[from], from)
			}
		}
	}
}

func TestSocketBufferOverflows(t *testing.T) {
	ff := &fakeFactory{}
	s := newSim(Options{Seed: 2, Nodes: 3, Factory: ff.build})
	n := s.nodes[0]
	s.start(n)
	frame := binary.LittleEndian.AppendUint64(nil, 2)
	for range rxBuffer + 50 {
		s.arrive(event{at: s.now, kind: evArrive, node: 0, from: 1, frame: frame})
	}
	for s.q.Len() > 0 {
		if e := s.q.pop(); e.kind == evReceive {
			s.now = e.at
			s.queued(e)
		}
	}
	if got := ff.made[0].received[2]; got != rxBuffer+1 {
		t.Fatalf("node took %d frames from a burst of %d, want the buffer (%d) plus the one in hand", got, rxBuffer+50, rxBuffer)
	}
}

func TestNetworkFates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	nw := newNetwork(4)
	nw.base, nw.jitter = time.Millisecond, time.Millisecond
	count := func(from, to int) (delivered, dups int) {
		for range 20000 {
			c, d1, d2 := nw.fates(rng, from, to)
			if c > 0 && from != to && (d1 < nw.base || d1 > nw.base+nw.jitter) {
				t.Fatalf("delay %v outside [%v, %v]", d1, nw.base, nw.base+nw.jitter)
			}
			if c == 2 && d2 == 0 {
				t.Fatal("duplicate without a delay")
			}
			delivered += min(c, 1)
			dups += max(c-1, 0)
		}
		return
	}
	nw.loss, nw.dup = 0.25, 0.1
	got, dups := count(0, 1)
	if got < 14500 || got > 15500 {
		t.Errorf("25%% loss delivered %d of 20000", got)
	}
	if dups < 1200 || dups > 1800 {
		t.Errorf("10%% duplication duplicated %d of %d", dups, got)
	}
	if got, _ := count(2, 2); got != 20000 {
		t.Errorf("loopback lost frames: %d of 20000", got)
	}
	nw.loss, nw.dup = 0, 0
	nw.group[3] = 1
	if got, _ := count(0, 3); got != 0 {
		t.Errorf("partition let %d frames through", got)
	}
	nw.group[3] = 0
	nw.cut[1*4+2] = true
	if got, _ := count(1, 2); got != 0 {
		t.Errorf("cut link 1→2 let %d frames through", got)
	}
	if got, _ := count(2, 1); got != 20000 {
		t.Errorf("cutting 1→2 also cut 2→1: %d of 20000", got)
	}
	nw.heal()
	if got, _ := count(1, 2); got != 20000 {
		t.Errorf("healed link delivered %d of 20000", got)
	}
}

func TestEventQueueOrder(t *testing.T) {
	var q eventQueue
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		q.push(event{at: srp.Time(rng.IntN(50)), node: int32(i)})
	}
	var last event
	for i := 0; q.Len() > 0; i++ {
		e := q.pop()
		if i > 0 && (e.at < last.at || (e.at == last.at && e.seq < last.seq)) {
			t.Fatalf("popped (%v, %d) after (%v, %d)", e.at, e.seq, last.at, last.seq)
		}
		last = e
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	fill := make([]byte, MaxPayload)
	for _, size := range []int{0, MinPayload, 100, MaxPayload} {
		id := NewMsgID(64, 3, 123456)
		p := EncodePayload(id, size, fill)
		got, _, err := DecodePayload(p)
		if err != nil || got != id {
			t.Fatalf("size %d: decoded %v, %v; want %v", size, got, err, id)
		}
		if id.Node() != 64 || id.Inc() != 3 || id.Seq() != 123456 {
			t.Fatalf("MsgID fields %d %d %d", id.Node(), id.Inc(), id.Seq())
		}
		for _, bad := range [][]byte{p[:len(p)-1], append(p[:len(p):len(p)], 0), nil} {
			if _, _, err := DecodePayload(bad); err == nil {
				t.Fatalf("size %d: a %d-byte mangled payload decoded", size, len(bad))
			}
		}
	}
}

func TestPayloadChecksumIsFNV64a(t *testing.T) {
	b := []byte("needle totem simulator")
	h := fnv.New64a()
	h.Write(b)
	if got := payloadChecksum(b); got != h.Sum64() {
		t.Fatalf("checksum %x, want %x", got, h.Sum64())
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add(EncodePayload(NewMsgID(1, 1, 1), 40, make([]byte, 40)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, _, err := DecodePayload(b)
		if err != nil {
			return
		}
		again := EncodePayload(id, len(b), b[payloadHeader:len(b)-payloadSum])
		if !bytes.Equal(again, b) {
			t.Fatalf("payload decoded as %v but re-encodes differently", id)
		}
	})
}

func TestParseNodeRange(t *testing.T) {
	tests := []struct {
		in      string
		want    NodeRange
		wantErr bool
	}{
		{"5", NodeRange{5, 5}, false},
		{"3-64", NodeRange{3, 64}, false},
		{" 4 - 9 ", NodeRange{4, 9}, false},
		{"2", NodeRange{}, true},
		{"3-65", NodeRange{}, true},
		{"9-4", NodeRange{}, true},
		{"x", NodeRange{}, true},
		{"3-", NodeRange{}, true},
	}
	for _, tc := range tests {
		got, err := ParseNodeRange(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseNodeRange(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPickStaysInRangeAndFavoursSmallRings(t *testing.T) {
	r := NodeRange{3, 64}
	small := 0
	for seed := range uint64(2000) {
		n := r.Pick(seed)
		if n < 3 || n > 64 {
			t.Fatalf("seed %d picked %d nodes", seed, n)
		}
		if n <= 8 {
			small++
		}
		if r.Pick(seed) != n {
			t.Fatalf("seed %d picks differently twice", seed)
		}
	}
	if small < 1000 || small > 1400 {
		t.Errorf("%d of 2000 seeds picked ≤ 8 nodes, want about 60%%", small)
	}
	if got := (NodeRange{7, 7}).Pick(99); got != 7 {
		t.Errorf("fixed range picked %d", got)
	}
}
