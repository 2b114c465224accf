package sim

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// Every node of the whole-node run has the cfg service in its stack, and
// simulated corosync-cfgtool clients use it while the run lasts (a
// request every cfgGap on average, on a node picked at random):
//
//   - RELOAD_CONFIG: one ring message every node's cfg core gets, each
//     asking its driver (here: the simulator, which answers OK a little
//     later) to reload; only the requester's client is answered;
//   - KILL_NODE of a node that is not a member: refused, nothing sent;
//   - REOPEN_LOG_FILES: the node's daemons are told, the client answered;
//   - a shutdown vote that is refused: a tracker says no, or says
//     nothing until cfg's vote timer (shutdown_timeout, on the stack's
//     clock) counts it as a no.
//
// and in a quarter of the seeds that crash a node (planCrash), the crash
// is a KILL_NODE from a client of another node, and in another quarter a
// clean stop the node's own client asks for with a granted shutdown vote
// (a tracker says yes). The checker (cfgcheck.go) wants every client
// answered as cfg promises and the cfg ring messages in one order on
// every node of a ring.

// cfg traffic of the whole-node run.
const (
	cfgGap           = 250 * time.Millisecond // mean gap between simulated cfgtool requests
	cfgRetry         = 10 * time.Millisecond  // pause before a request refused with TryAgain goes again
	cfgWork          = 20 * time.Millisecond  // longest a driver's reload or log reopening takes
	cfgShutdownLimit = 200 * time.Millisecond // cfg.shutdown_timeout of every node
)

// cfgNodelist is the nodelist cfg answers from: node i at 10.0.0.i.
func (s *wsim) cfgNodelist() map[uint32][]netip.Addr {
	nl := map[uint32][]netip.Addr{}
	for _, id := range s.ids {
		nl[uint32(id)] = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(id >> 8), byte(id)})}
	}
	return nl
}

// cfgClient is one simulated cfgtool connection to one node's stack.
type cfgClient struct {
	s      *wsim
	id     cfg.ConnID
	node   *wnode
	boot   uint32 // the node's stack it connected to
	what   string
	closed bool
	// req is the request in flight (resent after TryAgain); onAnswer
	// takes its answer (not TryAgain); onEvent takes cfg's events.
	req      []byte
	onAnswer func(msg []byte)
	onEvent  func(msg []byte)
	// want: the checker expects an answer while the node's stack lives
	// (cfgcheck.go); answered: it came.
	want     bool
	answered bool
	sentAt   srp.Time
}

// cfgConnect opens a client on n's stack.
func (s *wsim) cfgConnect(n *wnode, what string) *cfgClient {
	s.nextConn++
	c := &cfgClient{s: s, id: cfg.ConnID(s.nextConn), node: n, boot: n.boot, what: what}
	s.clients[c.id] = c
	s.clientList = append(s.clientList, c)
	s.tracef(n, "cfg client %d connects (%s)", c.id, what)
	s.at(s.now+busDelay, func() {
		if c.alive() {
			if err := n.st.Step(s.now, stack.CfgConnectEvent(c.id)); err != nil {
				s.chk.report(KindCore, s.now, n.id, "cfg connect %d refused: %v", c.id, err)
			}
		}
	})
	return c
}

// alive says the client's node still runs the stack it connected to.
func (c *cfgClient) alive() bool {
	return !c.closed && c.node.st != nil && c.node.boot == c.boot
}

// send makes req the client's request in flight and sends it.
func (c *cfgClient) send(req []byte, onAnswer func([]byte)) {
	c.req, c.onAnswer, c.want, c.answered = req, onAnswer, true, false
	c.sentAt = c.s.now
	c.resend()
}

func (c *cfgClient) resend() {
	s, n := c.s, c.node
	s.at(s.now+busDelay, func() {
		if !c.alive() {
			return
		}
		if err := n.st.Step(s.now, stack.CfgRequestEvent(c.id, c.req)); err != nil {
			s.chk.report(KindCore, s.now, n.id, "cfg request of client %d refused: %v", c.id, err)
		}
		s.flush(n)
	})
}

// close ends the connection.
func (c *cfgClient) close() {
	if c.closed {
		return
	}
	s, n := c.s, c.node
	alive := c.alive()
	c.closed = true
	c.want = false
	s.tracef(n, "cfg client %d disconnects", c.id)
	if alive {
		s.at(s.now+busDelay, func() {
			if n.st != nil && n.boot == c.boot {
				s.step(n, stack.CfgDisconnectEvent(c.id))
			}
		})
	}
}

// respond takes a response of the stack for the client: TryAgain sends
// the request again after cfgRetry while the run still sends.
func (c *cfgClient) respond(msg []byte) {
	s := c.s
	if c.closed {
		return
	}
	if !c.want {
		s.chk.report(KindCfg, s.now, c.node.id, "cfg client %d (%s) answered with no request in flight: %x", c.id, c.what, msg)
		return
	}
	if bytes.Equal(msg, cfg.GenericError(cs.ErrTryAgain)) {
		if c.node == s.cfgTarget && c.node.st != nil && !c.node.st.Membership().Synced {
			s.cfgStalled = true
		}
		if s.now > s.end-wholeDrain {
			c.close()
			return
		}
		s.at(s.now+cfgRetry, func() {
			if c.want && !c.closed {
				c.resend()
			}
		})
		return
	}
	c.want, c.answered = false, true
	s.res.CfgAnswered++
	if c.onAnswer != nil {
		c.onAnswer(msg)
	}
}

// cfgAction carries out what n's cfg core asks of the driver.
func (s *wsim) cfgAction(n *wnode, a cfg.Action) {
	switch a := a.(type) {
	case cfg.Respond:
		s.toClient(n, a.Conn, func(c *cfgClient) { c.respond(a.Msg) })
	case cfg.SendEvent:
		s.toClient(n, a.Conn, func(c *cfgClient) {
			if c.onEvent == nil {
				s.chk.report(KindCfg, s.now, n.id, "cfg client %d (%s) got an event it did not ask for", c.id, c.what)
				return
			}
			c.onEvent(a.Msg)
		})
	case cfg.Reload:
		s.cfgc.reloadAsked(n)
		boot := n.boot
		s.at(s.now+srp.Time(s.rng.Int64N(int64(cfgWork))), func() {
			if n.st != nil && n.boot == boot {
				s.step(n, stack.CfgReloadDoneEvent(a.Seq, cs.OK))
			}
		})
	case cfg.ReopenLogs:
		boot := n.boot
		s.at(s.now+srp.Time(s.rng.Int64N(int64(cfgWork))), func() {
			if n.st != nil && n.boot == boot {
				s.step(n, stack.CfgReopenLogsDoneEvent(a.Conn, cs.OK))
			}
		})
	case cfg.Log:
		s.tracef(n, "CFG %s %s", a.Level, a.Msg)
	case cfg.Exit:
		s.cfgExit(n, a.Status)
	case cfg.Shutdown:
		s.cfgShutdown(n)
	default:
		s.chk.report(KindCfg, s.now, n.id, "unexpected cfg action %T%+v", a, a)
	}
}

// toClient hands f the client conn of n's stack after a bus hop, if it
// is still there.
func (s *wsim) toClient(n *wnode, conn cfg.ConnID, f func(*cfgClient)) {
	c := s.clients[conn]
	if c == nil || c.node != n || c.boot != n.boot {
		s.chk.report(KindCfg, s.now, n.id, "cfg output for connection %d, which is not a client of this stack", conn)
		return
	}
	s.at(s.now+busDelay, func() {
		if c.alive() {
			f(c)
		}
	})
}

// planCfgTraffic starts the run's cfgtool traffic.
func (s *wsim) planCfgTraffic() {
	s.at(srp.Time(s.rng.ExpFloat64()*float64(cfgGap)), s.cfgRequest)
}

// cfgRequest starts one simulated cfgtool request and plans the next.
func (s *wsim) cfgRequest() {
	if s.now > s.end-wholeDrain {
		return
	}
	defer s.at(s.now+srp.Time(s.rng.ExpFloat64()*float64(cfgGap)), s.cfgRequest)
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	op := s.rng.IntN(10)
	if n.st == nil || n == s.cfgTarget {
		return // down, or the one the planned kill or shutdown is for
	}
	switch {
	case op < 5:
		s.cfgReload(n)
	case op < 6:
		s.cfgKillNobody(n)
	case op < 7:
		s.cfgReopenLogs(n)
	default:
		s.cfgRefusedVote(n)
	}
}

func bareResp(id cfg.RespID, e cs.Error) []byte { return cfg.BareResponse{Resp: id, Error: e}.Encode() }

// cfgReload: RELOAD_CONFIG, answered OK once the node's own copy is
// delivered and reloaded.
func (s *wsim) cfgReload(n *wnode) {
	s.cfgAsk(n, "reload", cfg.BareRequest{Req: cfg.ReqReloadConfig}.Encode(), bareResp(cfg.RespReloadConfig, cs.OK))
}

// cfgKillNobody: KILL_NODE of a node id outside the nodelist is refused
// with ErrNotExist, and nothing goes to the ring (cfgcheck would see it).
func (s *wsim) cfgKillNobody(n *wnode) {
	target := uint32(len(s.nodes) + 1 + s.rng.IntN(5))
	s.cfgAsk(n, fmt.Sprintf("kill of absent n%d", target), cfg.KillNodeRequest{NodeID: target, Reason: "nobody"}.Encode(),
		bareResp(cfg.RespKillNode, cs.ErrNotExist))
}

// cfgReopenLogs: REOPEN_LOG_FILES, answered OK after the driver reopened.
func (s *wsim) cfgReopenLogs(n *wnode) {
	s.cfgAsk(n, "reopen-logs", cfg.BareRequest{Req: cfg.ReqReopenLogFiles}.Encode(), bareResp(cfg.RespReopenLogFiles, cs.OK))
}

// cfgAsk sends req from a new client on n, wants exactly the answer want
// and closes the client.
func (s *wsim) cfgAsk(n *wnode, what string, req, want []byte) {
	c := s.cfgConnect(n, what)
	c.send(req, func(msg []byte) {
		if !bytes.Equal(msg, want) {
			s.chk.report(KindCfg, s.now, n.id, "%s (client %d) answered %x", what, c.id, msg)
		}
		c.close()
	})
}

// cfgVote runs a shutdown vote on n: a tracker connects and tracks, then
// a requester asks to shut down (flags); the tracker answers the vote's
// event with reply (1 yes, 0 no) or, with silent, not at all, so that
// cfg's timer decides. done gets the requester's answer and when the
// vote was asked. One vote at a time on a node (n.voting).
func (s *wsim) cfgVote(n *wnode, silent bool, reply uint32, done func(answer []byte, asked srp.Time)) {
	n.voting = true
	t := s.cfgConnect(n, "tracker")
	var r *cfgClient
	end := func() {
		t.close()
		if r != nil {
			r.close()
		}
		n.voting = false
	}
	t.onEvent = func(msg []byte) {
		ev, err := cfg.DecodeTestShutdownEvent(msg)
		if err != nil || ev.Error != cs.OK {
			return // the timeout's event goes to requesters only; nothing else expected
		}
		if silent {
			return
		}
		t.send(cfg.ReplyToShutdownRequest{Response: reply}.Encode(), func(msg []byte) {
			// OK, or ErrAccess when the vote ended meanwhile (a retry
			// after TryAgain that came after cfg's timer).
			if !bytes.Equal(msg, bareResp(cfg.RespReplyToShutdown, cs.OK)) && !bytes.Equal(msg, bareResp(cfg.RespReplyToShutdown, cs.ErrAccess)) {
				s.chk.report(KindCfg, s.now, n.id, "tracker %d's reply answered %x", t.id, msg)
			}
		})
	}
	t.send(cfg.TrackStartRequest{}.Encode(), func(msg []byte) {
		if !bytes.Equal(msg, bareResp(cfg.RespTrackStart, cs.OK)) {
			s.chk.report(KindCfg, s.now, n.id, "track start of client %d answered %x", t.id, msg)
			end()
			return
		}
		r = s.cfgConnect(n, "shutdown")
		r.send(cfg.TryShutdownRequest{Flags: cfg.ShutdownRequest}.Encode(), func(msg []byte) {
			asked := r.sentAt
			end()
			done(msg, asked)
		})
	})
}

// cfgRefusedVote: a shutdown vote the tracker refuses, by saying no or
// by saying nothing for shutdown_timeout: the requester gets ErrBusy,
// in the second case not before the timeout, and the node stays.
func (s *wsim) cfgRefusedVote(n *wnode) {
	if n.voting {
		return
	}
	silent := s.rng.IntN(2) == 0
	s.cfgVote(n, silent, 0, func(msg []byte, asked srp.Time) {
		if !bytes.Equal(msg, bareResp(cfg.RespTryShutdown, cs.ErrBusy)) {
			s.chk.report(KindCfg, s.now, n.id, "refused shutdown vote (silent tracker: %v) answered %x", silent, msg)
		}
		if silent && s.now < asked+cfgShutdownLimit {
			s.chk.report(KindCfg, s.now, n.id, "shutdown vote with a silent tracker decided after %v, before the %v timeout", s.now-asked, cfgShutdownLimit)
		}
	})
}

// planCfgKill has a client of another node kill n with KILL_NODE at
// time at (planCrash); it asks again after TryAgain, or while n is not a
// member there (ErrNotExist), until n is gone.
func (s *wsim) planCfgKill(n *wnode) {
	s.cfgTarget = n
	var try func()
	try = func() {
		if n.st == nil || s.cfgTargetDown {
			return
		}
		var from *wnode
		for _, k := range s.rng.Perm(len(s.nodes)) {
			if m := s.nodes[k]; m != n && m.st != nil {
				from = m
				break
			}
		}
		if from == nil {
			s.at(s.now+cfgRetry, try)
			return
		}
		c := s.cfgConnect(from, "kill")
		reason := fmt.Sprintf("sim kill of n%d", n.id)
		c.send(cfg.KillNodeRequest{NodeID: uint32(n.id), Reason: reason}.Encode(), func(msg []byte) {
			c.close()
			switch {
			case bytes.Equal(msg, bareResp(cfg.RespKillNode, cs.OK)):
				s.tracef(from, "kill of n%d accepted", n.id)
			case bytes.Equal(msg, bareResp(cfg.RespKillNode, cs.ErrNotExist)):
				s.at(s.now+cfgRetry, try)
			default:
				s.chk.report(KindCfg, s.now, from.id, "kill of n%d answered %x", n.id, msg)
			}
		})
	}
	try()
}

// planCfgShutdown has a client of n ask for n's shutdown in a vote its
// tracker grants; cfg then sends SHUTDOWN to the ring and n's own copy
// makes it stop cleanly (cfgShutdown).
func (s *wsim) planCfgShutdown(n *wnode) {
	s.cfgTarget = n
	var try func()
	try = func() {
		if n.st == nil || s.cfgTargetDown {
			return
		}
		if n.voting {
			s.at(s.now+cfgRetry, try)
			return
		}
		s.cfgVote(n, false, 1, func(msg []byte, _ srp.Time) {
			if !bytes.Equal(msg, bareResp(cfg.RespTryShutdown, cs.OK)) {
				s.chk.report(KindCfg, s.now, n.id, "granted shutdown vote answered %x", msg)
			}
		})
	}
	try()
}

// cfgExit is a cfg Exit of n: only the planned kill's target may exit,
// once; it goes down like a crashed totemd, after the outputs of this
// Ready (as totemd's loop finishes its flush).
func (s *wsim) cfgExit(n *wnode, status int) {
	if n != s.cfgTarget || s.cfgTargetDown || !s.cfgKill || status != 255 {
		s.chk.report(KindCfg, s.now, n.id, "cfg exit (status %d) of a node nobody killed", status)
		return
	}
	s.cfgTargetDown = true
	s.at(s.now, func() { s.takeDown(n, false) })
}

// cfgShutdown is a cfg Shutdown of n: only the planned shutdown's target
// may stop, once; it leaves the ring cleanly, as totemd does.
func (s *wsim) cfgShutdown(n *wnode) {
	if n != s.cfgTarget || s.cfgTargetDown || s.cfgKill {
		s.chk.report(KindCfg, s.now, n.id, "cfg shutdown of a node nobody asked to stop")
		return
	}
	s.cfgTargetDown = true
	s.at(s.now, func() { s.takeDown(n, true) })
}
