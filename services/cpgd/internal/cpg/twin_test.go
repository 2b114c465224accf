package cpg

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// twin drives node 1's core, and every core handed over from it, with the
// same input, and fails at the first output (return value, Ready, warning)
// in which they differ. The other nodes (2 and 3) are modelled by the
// messages they would send: their processes, their fragments, their sync
// messages. The ring is a single node's view of extended virtual
// synchrony: own multicasts come back in order, interleaved with the
// others', and no cpg message is delivered inside a round.
type twin struct {
	t     testing.TB
	cfg   Config
	cores []*Core
	warns [][]string
	rng   *rand.Rand
	step  int

	conns    []ConnID
	nextConn ConnID
	handles  map[ConnID][]uint64
	ownFrag  map[ConnID][2]uint32 // msglen, bytes sent of a fragmented message in progress

	pending  [][]byte // own multicasts the ring has not delivered back yet
	members  []uint32 // the current ring; nil while detached
	prevRing []uint32
	rd       *Round
	syncQ    map[uint32][][]byte // sync messages of the round, per sender
	failed   [][]byte            // what the host failed at the detachment
	detached bool
	roundID  uint64
	ringSeq  uint64

	peerProcs map[uint32][]proc
	peerFrag  map[asmKey][2]uint32

	handovers, rounds, aborts, detaches int
}

func newTwin(t testing.TB, seed uint64, bug bool) *twin {
	tw := &twin{t: t, cfg: Config{NodeID: 1, Keep317AbortBug: bug}, rng: rand.New(rand.NewPCG(seed, 7)),
		handles: map[ConnID][]uint64{}, ownFrag: map[ConnID][2]uint32{}, peerProcs: map[uint32][]proc{}, peerFrag: map[asmKey][2]uint32{}}
	c, err := New(tw.withWarn(0))
	if err != nil {
		t.Fatal(err)
	}
	tw.cores = []*Core{c}
	tw.warns = [][]string{nil}
	return tw
}

// withWarn is the config of core i: its warnings go to its own log.
func (tw *twin) withWarn(i int) Config {
	cfg := tw.cfg
	cfg.Warn = func(msg string, args ...any) { tw.warns[i] = append(tw.warns[i], msg+fmt.Sprint(args...)) }
	return cfg
}

func (tw *twin) c() *Core { return tw.cores[0] }

// do applies one input to every core and compares what they return and
// what they want done; the multicasts go to the ring (or are returned for
// the round's sync queue).
func (tw *twin) do(what string, f func(c *Core) any) (any, Ready) {
	tw.t.Helper()
	tw.step++
	var want any
	var wantReady Ready
	for i, c := range tw.cores {
		got := f(c)
		r := c.Ready()
		if err := c.CheckInvariants(); err != nil {
			tw.t.Fatalf("step %d %s: core %d: %v", tw.step, what, i, err)
		}
		if i == 0 {
			want, wantReady = got, r
			continue
		}
		if !reflect.DeepEqual(got, want) {
			tw.t.Fatalf("step %d %s: handed-over core %d returned %#v, the original %#v", tw.step, what, i, got, want)
		}
		if !reflect.DeepEqual(r, wantReady) {
			tw.t.Fatalf("step %d %s: handed-over core %d wants\n\t%s\nthe original\n\t%s", tw.step, what, i, renderReady(r), renderReady(wantReady))
		}
		if !slices.Equal(tw.warns[i], tw.warns[0]) {
			tw.t.Fatalf("step %d %s: handed-over core %d warned %q, the original %q", tw.step, what, i, tw.warns[i], tw.warns[0])
		}
	}
	for i := range tw.warns {
		tw.warns[i] = nil
	}
	return want, wantReady
}

// in is do for inputs whose multicasts go to the ring.
func (tw *twin) in(what string, f func(c *Core) any) any {
	tw.t.Helper()
	got, r := tw.do(what, f)
	tw.pending = append(tw.pending, r.Mcasts...)
	return got
}

func renderReady(r Ready) string {
	var ss []string
	for _, m := range r.Mcasts {
		ss = append(ss, fmt.Sprintf("mcast % x", m))
	}
	for _, e := range r.Events {
		ss = append(ss, render(e))
	}
	return strings.Join(ss, "\n\t")
}

// deliver is one ring message from node from.
func (tw *twin) deliver(from uint32, b []byte) {
	tw.t.Helper()
	tw.in(fmt.Sprintf("deliver from %d", from), func(c *Core) any {
		if err := c.Deliver(from, b, false); err != nil {
			return err.Error()
		}
		return nil
	})
}

func (tw *twin) deliverOwn() {
	if len(tw.pending) > 0 && tw.rd == nil && !tw.detached {
		b := tw.pending[0]
		tw.pending = tw.pending[1:]
		tw.deliver(1, b)
	}
}

// startRound: a new ring of node 1 and the peers given. The ring delivers
// a prefix of node 1's multicasts in the old configuration; the rest waits
// for the new ring's activation. A round in progress is aborted.
func (tw *twin) startRound(peers ...uint32) {
	if !tw.detached && tw.rd == nil {
		for n := tw.rng.IntN(len(tw.pending) + 1); n > 0; n-- {
			tw.deliverOwn()
		}
	}
	if tw.rd != nil {
		tw.aborts++
		tw.do("abort", func(c *Core) any { c.SyncAbort(); return nil })
	}
	members := append([]uint32{1}, peers...)
	var trans []uint32
	for _, m := range members {
		if slices.Contains(tw.prevRing, m) {
			trans = append(trans, m)
		}
	}
	if len(trans) == 0 {
		trans = []uint32{1}
	}
	tw.roundID++
	tw.ringSeq += 4
	rd := Round{ID: tw.roundID, Ring: ring.ID{Rep: 1, Seq: tw.ringSeq}, Members: members, Trans: trans}
	tw.rd, tw.members, tw.prevRing = &rd, members, members
	tw.syncQ = nil
	clear(tw.peerFrag) // the round cuts every fragmented message
	tw.rounds++
	tw.do("confchg+init", func(c *Core) any {
		c.ConfChg(ring.Transitional)
		c.ConfChg(ring.Regular)
		c.SyncInit(rd)
		return nil
	})
}

// process runs SyncProcess on node 1 and queues every member's sync
// messages: a DOWNLIST, then a JOINLIST of its processes.
func (tw *twin) process() {
	rd := *tw.rd
	_, r := tw.do("process", func(c *Core) any { return c.SyncProcess(rd) })
	tw.syncQ = map[uint32][][]byte{1: r.Mcasts}
	for _, p := range rd.Members[1:] {
		q := [][]byte{cpgmsg.Encode(cpgmsg.Downlist{})}
		var es []cpgmsg.JoinEntry
		for _, pr := range tw.peerProcs[p] {
			es = append(es, cpgmsg.JoinEntry{PID: pr.pid, Group: pr.group})
		}
		if len(es) > 0 {
			q = append(q, cpgmsg.Encode(cpgmsg.JoinList{Entries: es}))
		}
		tw.syncQ[p] = q
	}
}

// syncStep delivers one queued sync message, or activates once all are.
func (tw *twin) syncStep() {
	if tw.syncQ == nil {
		tw.process()
		return
	}
	var from []uint32
	for _, m := range tw.rd.Members {
		if len(tw.syncQ[m]) > 0 {
			from = append(from, m)
		}
	}
	if len(from) == 0 {
		tw.activate(false)
		return
	}
	n := from[tw.rng.IntN(len(from))]
	b := tw.syncQ[n][0]
	tw.syncQ[n] = tw.syncQ[n][1:]
	tw.deliver(n, b)
}

// activate ends the round; stray, it is an activation after an abort with
// no init in between (a host's mistake the core survives: it keeps 3.1.7's
// JOINLISTs across it, which a snapshot must carry).
func (tw *twin) activate(stray bool) {
	rd := *tw.rd
	tw.rd, tw.syncQ = nil, nil
	tw.in("activate", func(c *Core) any {
		if stray {
			c.SyncAbort()
		}
		c.SyncActivate(rd)
		return nil
	})
}

// settle brings node 1 to a quiet point: reattached, round over, its own
// multicasts delivered.
func (tw *twin) settle() {
	if tw.detached {
		tw.reattach()
	}
	for tw.rd != nil {
		tw.syncStep()
	}
	for len(tw.pending) > 0 {
		tw.deliverOwn()
	}
}

func (tw *twin) detach() {
	tw.detaches++
	// The ring took a prefix of what was sent (node 1 never gets it back);
	// the host fails the rest.
	took := tw.rng.IntN(len(tw.pending) + 1)
	tw.failed = slices.Clone(tw.pending[took:])
	tw.pending, tw.rd, tw.syncQ, tw.members, tw.prevRing = nil, nil, nil, nil, nil
	tw.detached = true
	tw.do("detached", func(c *Core) any { c.Detached(); return nil })
}

func (tw *twin) reattach() {
	tw.detached = false
	failed := tw.failed
	tw.failed = nil
	tw.do("requeue", func(c *Core) any { c.Requeue(failed); return nil })
	tw.startRound(tw.somePeers()...)
}

func (tw *twin) somePeers() []uint32 {
	var ps []uint32
	for _, p := range []uint32{2, 3} {
		if tw.rng.IntN(3) > 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// handover hands the newest core over at a quiet point and checks the
// bytes: every core encodes the same, the restored one encodes them again.
func (tw *twin) handover() {
	tw.t.Helper()
	tw.settle()
	for i, c := range tw.cores {
		if ok, why := c.Quiet(); !ok {
			tw.t.Fatalf("step %d: core %d not quiet after settling: %s", tw.step, i, why)
		}
	}
	b := tw.sameSnapshots()
	tw.warns = append(tw.warns, nil)
	c, err := Restore(tw.withWarn(len(tw.cores)), slices.Clone(b))
	if err != nil {
		tw.t.Fatalf("step %d: restore: %v", tw.step, err)
	}
	if again, err := c.Snapshot(); err != nil || !bytes.Equal(again, b) {
		tw.t.Fatalf("step %d: the restored core encodes differently (%v)", tw.step, err)
	}
	tw.cores = append(tw.cores, c)
	tw.handovers++
}

// sameSnapshots requires every core to encode the same bytes.
func (tw *twin) sameSnapshots() []byte {
	tw.t.Helper()
	var first []byte
	for i, c := range tw.cores {
		b, err := c.Snapshot()
		if err != nil {
			tw.t.Fatalf("step %d: core %d: %v", tw.step, i, err)
		}
		if i == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			tw.t.Fatalf("step %d: core %d's snapshot (%d bytes) differs from the original's (%d bytes)", tw.step, i, len(b), len(first))
		}
	}
	return first
}
