package cfg

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// vote is a running shutdown request (corosync's shutdown_con and
// counters). Trackers other than the requester are asked; the requester's
// reply waits for the decision.
type vote struct {
	requester ConnID
	flags     ShutdownFlags
	yes, no   int
	expected  int
	timerGen  uint64 // 0: no timer armed
	// decided: granted at once because nobody was asked. Corosync keeps
	// the request registered until the requester goes away, so a second
	// TRYSHUTDOWN still gets CS_ERR_EXIST; needle keeps that but asks and
	// answers nobody else.
	decided bool
}

func (s *Service) tryShutdown(c ConnID, flags ShutdownFlags) []Action {
	if flags == ShutdownImmediate {
		return []Action{
			Multicast{ShutdownExec{}.Encode()},
			Respond{c, BareResponse{RespTryShutdown, cs.OK}.Encode()},
		}
	}
	if s.vote != nil {
		return []Action{Respond{c, BareResponse{RespTryShutdown, cs.ErrExist}.Encode()}}
	}
	s.conns[c].requested = true
	v := &vote{requester: c, flags: flags}
	for _, t := range s.trackers {
		if t != c {
			s.conns[t].reply = replyUnknown
			v.expected++
		}
	}
	s.vote = v
	if v.expected == 0 {
		v.decided = true
		return []Action{
			Respond{c, BareResponse{RespTryShutdown, cs.OK}.Encode()},
			Multicast{ShutdownExec{}.Encode()},
		}
	}
	s.timerGen++
	v.timerGen = s.timerGen
	out := []Action{StartTimer{Gen: v.timerGen, After: s.shutdownTimeout()}}
	ev := TestShutdownEvent{Error: cs.OK, Flags: flags}.Encode()
	for _, t := range s.trackers {
		if t != c {
			out = append(out, SendEvent{t, ev})
		}
	}
	return out
}

func (s *Service) replyToShutdown(c ConnID, response uint32) []Action {
	v := s.vote
	if v == nil {
		return []Action{Respond{c, BareResponse{RespReplyToShutdown, cs.ErrAccess}.Encode()}}
	}
	var out []Action
	if !v.decided {
		if response != 0 {
			v.yes++
			s.conns[c].reply = replyYes
		} else {
			v.no++
			s.conns[c].reply = replyNo
		}
		s.decide(&out)
	}
	return append(out, Respond{c, BareResponse{RespReplyToShutdown, cs.OK}.Encode()})
}

// decide ends the vote once every expected tracker counted: the
// requester gets CS_OK (and the ring SHUTDOWN) if all said yes or the
// flags say REGARDLESS, CS_ERR_BUSY otherwise.
func (s *Service) decide(out *[]Action) {
	v := s.vote
	if v == nil || v.decided || v.yes+v.no < v.expected {
		return
	}
	if v.timerGen != 0 {
		*out = append(*out, StopTimer{Gen: v.timerGen})
	}
	s.vote = nil
	if v.yes >= v.expected || v.flags == ShutdownRegardless {
		*out = append(*out,
			Respond{v.requester, BareResponse{RespTryShutdown, cs.OK}.Encode()},
			Multicast{ShutdownExec{}.Encode()})
	} else {
		*out = append(*out, Respond{v.requester, BareResponse{RespTryShutdown, cs.ErrBusy}.Encode()})
	}
	*out = append(*out, Log{LevelDebug, fmt.Sprintf("shutdown decision is: (yes count: %d, no count: %d) flags=%x", v.yes, v.no, uint32(v.flags))})
}

// TimerExpired handles the shutdown-vote timer of generation gen:
// trackers that did not answer count as "no". Stale generations are
// ignored. Afterwards corosync sends a TESTSHUTDOWN with CS_ERR_TIMEOUT,
// but only to trackers that themselves once requested a shutdown.
func (s *Service) TimerExpired(gen uint64) []Action {
	v := s.vote
	if v == nil || v.timerGen != gen {
		return nil
	}
	v.timerGen = 0 // fired: nothing to stop
	v.no = v.expected
	var out []Action
	s.decide(&out)
	ev := TestShutdownEvent{Error: cs.ErrTimeout, Flags: v.flags}.Encode()
	for _, t := range s.trackers {
		if s.conns[t].requested {
			out = append(out, SendEvent{t, ev})
		}
	}
	return out
}

func (s *Service) trackStart(c ConnID) []Action {
	var out []Action
	ci := s.conns[c]
	if !ci.tracking {
		ci.tracking = true
		s.trackers = append([]ConnID{c}, s.trackers...)
		if v := s.vote; v != nil && !v.decided {
			ci.reply = replyUnknown
			v.expected++
			out = append(out, SendEvent{c, TestShutdownEvent{Error: cs.OK, Flags: v.flags}.Encode()})
		}
	}
	return append(out, Respond{c, BareResponse{RespTrackStart, cs.OK}.Encode()})
}

// leaveShutdown is TRACKSTOP and disconnect: a leaving requester cancels
// its vote silently; a leaving tracker takes back its vote and counts as
// an implicit yes.
func (s *Service) leaveShutdown(c ConnID, out *[]Action) {
	if v := s.vote; v != nil && v.requester == c {
		if v.timerGen != 0 {
			*out = append(*out, StopTimer{Gen: v.timerGen})
		}
		s.vote = nil
	}
	ci := s.conns[c]
	if !ci.tracking {
		return
	}
	ci.tracking = false
	for i, t := range s.trackers {
		if t == c {
			s.trackers = append(s.trackers[:i:i], s.trackers[i+1:]...)
			break
		}
	}
	v := s.vote
	if v == nil || v.decided {
		ci.reply = replyYes
		return
	}
	switch ci.reply {
	case replyYes:
		v.yes--
	case replyNo:
		v.no--
	}
	ci.reply = replyYes
	v.yes++
	s.decide(out)
}
