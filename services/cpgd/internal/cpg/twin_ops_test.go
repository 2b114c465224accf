package cpg

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// The inputs of the twin, client and peer side. Each picks its arguments
// with the twin's generator; the cores get the same ones.

var twinGroups = []string{"a", "b", "c\x00", ""}

func (tw *twin) pick(n int) int { return tw.rng.IntN(n) }

func (tw *twin) connect() ConnID {
	tw.nextConn++
	id := tw.nextConn
	tw.in("connect", func(c *Core) any { return fmt.Sprint(c.Connect(id)) })
	tw.conns = append(tw.conns, id)
	return id
}

func (tw *twin) join(id ConnID, group string, pid, flags uint32) any {
	return tw.in("join", func(c *Core) any { return c.Join(id, group, pid, flags) })
}

func (tw *twin) mcast(id ConnID, data string) any {
	return tw.in("mcast", func(c *Core) any { return c.Mcast(id, []byte(data)) })
}

// partial sends the next fragment of conn id's message: a FIRST of a new
// one, or a CONTINUED or the LAST of the one in progress.
func (tw *twin) partial(id ConnID) {
	f, ok := tw.ownFrag[id]
	msglen, sent := f[0], f[1]
	typ := PartialContinued
	if !ok || sent >= msglen {
		typ, msglen, sent = PartialFirst, uint32(3+tw.pick(20)), 0
	}
	n := 1 + uint32(tw.pick(int(msglen-sent)))
	if n == msglen-sent && typ == PartialContinued {
		typ = PartialLast
	} else if n == msglen-sent {
		n-- // a FIRST leaves room for the LAST
	}
	odd := tw.pick(30) == 0
	if odd {
		typ = PartialType(tw.pick(5)) // 0 and 4 are refused
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte('a' + int(sent+uint32(i))%26)
	}
	st := tw.in("partial", func(c *Core) any { return c.PartialMcast(id, typ, msglen, data) })
	if odd || st != any(cs.OK) || typ == PartialLast {
		delete(tw.ownFrag, id)
	} else {
		tw.ownFrag[id] = [2]uint32{msglen, sent + n}
	}
}

func (tw *twin) iterate(id ConnID) {
	hs := tw.handles[id]
	switch k := tw.pick(4); {
	case k == 0 || len(hs) == 0:
		typ, g := IterType(tw.pick(5)), twinGroups[tw.pick(len(twinGroups))]
		got := tw.in("iteration init", func(c *Core) any { h, st := c.IterationInit(id, typ, g); return [2]any{h, st} })
		tw.handles[id] = append(hs, got.([2]any)[0].(uint64))
	case k == 1:
		h := hs[tw.pick(len(hs))]
		tw.in("iteration finalize", func(c *Core) any { return c.IterationFinalize(id, h) })
		tw.handles[id] = slices.DeleteFunc(hs, func(x uint64) bool { return x == h })
	default:
		h := hs[tw.pick(len(hs))]
		if tw.pick(10) == 0 {
			h += 1000 // not this connection's
		}
		tw.in("iteration next", func(c *Core) any { e, st := c.IterationNext(id, h); return [2]any{e, st} })
	}
}

// clientStep is one request of a random client.
func (tw *twin) clientStep() {
	if len(tw.conns) == 0 || (len(tw.conns) < 8 && tw.pick(8) == 0) {
		tw.connect()
		return
	}
	id := tw.conns[tw.pick(len(tw.conns))]
	switch k := tw.pick(20); {
	case k < 4:
		tw.join(id, twinGroups[tw.pick(len(twinGroups))], uint32(100+tw.pick(4)), uint32(tw.pick(2)))
	case k < 6:
		tw.in("leave", func(c *Core) any { return c.Leave(id) })
	case k < 10:
		tw.mcast(id, fmt.Sprintf("m%d", tw.step))
	case k < 13:
		tw.partial(id)
	case k < 15:
		tw.iterate(id)
	case k < 16:
		g := twinGroups[tw.pick(len(twinGroups))]
		tw.in("membership get", func(c *Core) any { return c.MembershipGet(g) })
	case k < 17 && tw.pick(3) == 0:
		tw.in("finalize", func(c *Core) any { return c.Finalize(id) })
	case k < 18 && tw.pick(2) == 0:
		tw.in("disconnect", func(c *Core) any { c.Disconnect(id); return nil })
		tw.conns = slices.DeleteFunc(tw.conns, func(x ConnID) bool { return x == id })
		delete(tw.ownFrag, id)
		delete(tw.handles, id)
	default:
		tw.in("queries", func(c *Core) any {
			return fmt.Sprint(c.LocalGet(), c.NodeID(), c.InSync(), c.Held(), c.HasReady(), c.Stats(), c.ProcessList(), c.ConnIDs())
		})
	}
}

// peerStep is one ring message of another member: a process joining or
// leaving, a whole message, a fragment, or garbage.
func (tw *twin) peerStep() {
	var peers []uint32
	for _, m := range tw.members {
		if m != 1 {
			peers = append(peers, m)
		}
	}
	if len(peers) == 0 || tw.rd != nil || tw.detached {
		return
	}
	p := peers[tw.pick(len(peers))]
	procs := tw.peerProcs[p]
	k := tw.pick(10)
	if len(procs) == 0 {
		k = 0
	}
	switch {
	case k < 2:
		pr := proc{group: twinGroups[tw.pick(len(twinGroups))], node: p, pid: uint32(200 + tw.pick(3))}
		if !slices.Contains(procs, pr) {
			tw.peerProcs[p] = append(procs, pr)
		}
		tw.deliver(p, cpgmsg.Encode(cpgmsg.ProcJoin{Group: pr.group, PID: pr.pid, Reason: 1}))
	case k < 3:
		i := tw.pick(len(procs))
		pr := procs[i]
		tw.peerProcs[p] = slices.Delete(slices.Clone(procs), i, i+1)
		tw.deliver(p, cpgmsg.Encode(cpgmsg.ProcLeave{Group: pr.group, PID: pr.pid, Reason: 2}))
	case k < 5:
		pr := procs[tw.pick(len(procs))]
		tw.deliver(p, cpgmsg.Encode(cpgmsg.Mcast{Group: pr.group, PID: pr.pid, SourceNode: p, Data: fmt.Appendf(nil, "p%d", tw.step)}))
	case k < 9:
		pr := procs[tw.pick(len(procs))]
		tw.peerFragment(asmKey{group: pr.group, node: p, pid: pr.pid})
	default:
		tw.deliver(p, []byte{byte(tw.pick(256)), 0, 0})
	}
}

// peerFragment sends the next fragment of a peer process's message.
func (tw *twin) peerFragment(key asmKey) {
	f, ok := tw.peerFrag[key]
	msglen, sent := f[0], f[1]
	typ := uint32(PartialContinued)
	if !ok {
		typ, msglen, sent = uint32(PartialFirst), uint32(2+tw.pick(12)), 0
	}
	n := 1 + uint32(tw.pick(int(msglen-sent)))
	if n == msglen-sent && typ == uint32(PartialContinued) {
		typ = uint32(PartialLast)
		delete(tw.peerFrag, key)
	} else {
		n = min(n, msglen-sent-1)
		tw.peerFrag[key] = [2]uint32{msglen, sent + n}
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte('A' + int(sent+uint32(i))%26)
	}
	tw.deliver(key.node, cpgmsg.Encode(cpgmsg.PartialMcast{Group: key.group, MsgLen: msglen, PID: key.pid, Type: typ, SourceNode: key.node, Data: data}))
}

// randomStep is one random input: client request, ring delivery, peer
// message, sync round work, ring change, detachment.
func (tw *twin) randomStep() {
	switch k := tw.pick(100); {
	case k < 40:
		tw.clientStep()
	case k < 55:
		tw.deliverOwn()
	case k < 75:
		tw.peerStep()
	case k < 90 && tw.rd != nil:
		tw.syncStep()
	case k < 92 && !tw.detached:
		tw.startRound(tw.somePeers()...)
	case k < 93 && tw.rd != nil && tw.syncQ != nil && tw.pick(4) == 0:
		tw.activate(true)
	case k < 94 && !tw.detached:
		tw.detach()
	case k < 97 && tw.detached:
		tw.reattach()
	default:
		tw.clientStep()
	}
}
