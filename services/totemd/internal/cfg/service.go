package cfg

import (
	"fmt"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Service is the cfg service of one node: client connections, the
// shutdown vote and the reload queue. It is a pure state machine; every
// method handles one event and returns the actions for the driver.
type Service struct {
	st    StatusProvider
	conns map[ConnID]*conn

	trackers []ConnID // newest first, as corosync's list
	vote     *vote    // the running shutdown vote, nil if none
	timerGen uint64

	reloads   []pendingReload // delivered RELOAD_CONFIGs, head in progress
	reloadSeq uint64
}

// conn is one client's cfg state (corosync's struct cfg_info).
type conn struct {
	tracking bool
	reply    reply
	// requested: the connection once called TRYSHUTDOWN. Corosync sends
	// the vote-timeout event only to such trackers (spec/cfg.md §3.3).
	requested bool
}

type reply uint8

const (
	replyUnknown reply = iota
	replyYes
	replyNo
)

type pendingReload struct {
	seq    uint64
	sender uint32
	source Source
}

// New returns the cfg service reading node state from st.
func New(st StatusProvider) *Service {
	return &Service{st: st, conns: map[ConnID]*conn{}}
}

// Connect registers a new client connection.
func (s *Service) Connect(c ConnID) error {
	if _, ok := s.conns[c]; ok {
		return fmt.Errorf("cfg connect: connection %d already registered", c)
	}
	s.conns[c] = &conn{}
	return nil
}

// Disconnect forgets connection c: it stops tracking (counting as a yes
// vote), and a vote it requested is cancelled without a reply.
func (s *Service) Disconnect(c ConnID) []Action {
	if _, ok := s.conns[c]; !ok {
		return nil
	}
	var out []Action
	s.leaveShutdown(c, &out)
	delete(s.conns, c)
	return out
}

// Request handles one client request (16-byte header first) on
// connection c. Malformed requests and unknown ids get corosync's
// generic reply (id 0, CS_ERR_INVALID_PARAM); flow-controlled requests
// while sending is not allowed get the generic CS_ERR_TRY_AGAIN. The
// error is for the driver's log only: the client has been answered.
func (s *Service) Request(c ConnID, msg []byte) ([]Action, error) {
	if _, ok := s.conns[c]; !ok {
		return nil, fmt.Errorf("cfg request: connection %d is not registered", c)
	}
	req, err := DecodeRequest(msg)
	if err != nil {
		return []Action{Respond{c, GenericError(cs.ErrInvalidParam)}}, err
	}
	if FlowControlRequired(req.ID()) && !s.st.SendingAllowed() {
		return []Action{Respond{c, GenericError(cs.ErrTryAgain)}}, nil
	}
	var out []Action
	switch r := req.(type) {
	case KillNodeRequest:
		out = s.killNode(c, r)
	case TryShutdownRequest:
		out = s.tryShutdown(c, r.Flags)
	case ReplyToShutdownRequest:
		out = s.replyToShutdown(c, r.Response)
	case GetNodeAddrsRequest:
		out = []Action{Respond{c, s.nodeAddrs(r.NodeID).Encode()}}
	case NodeStatusRequest:
		out = []Action{Respond{c, s.nodeStatus(r).Encode()}}
	case TrackStartRequest:
		out = s.trackStart(c)
	case BareRequest:
		out = s.bare(c, r.Req)
	}
	return out, nil
}

func (s *Service) bare(c ConnID, id ReqID) []Action {
	switch id {
	case ReqRingStatusGet:
		return []Action{Respond{c, s.ringStatus().Encode()}}
	case ReqRingReenable:
		// knet heals links itself; 3.x refuses (spec/cfg.md §2.6).
		return []Action{Respond{c, BareResponse{RespRingReenable, cs.ErrNotSupported}.Encode()}}
	case ReqLocalGet:
		return []Action{Respond{c, LocalGetResponse{Error: cs.OK, NodeID: s.st.LocalNodeID()}.Encode()}}
	case ReqReloadConfig:
		// Answered when our own copy is delivered and applied.
		src := Source{NodeID: s.st.LocalNodeID(), Conn: uint64(c)}
		return []Action{Multicast{ReloadConfigExec{Source: src}.Encode()}}
	case ReqReopenLogFiles:
		return []Action{Log{LevelDebug, "Reopening logging files"}, ReopenLogs{Conn: c}}
	case ReqTrackStop:
		var out []Action
		s.leaveShutdown(c, &out)
		return append(out, Respond{c, BareResponse{RespTrackStop, cs.OK}.Encode()})
	}
	return []Action{Respond{c, GenericError(cs.ErrInvalidParam)}}
}

// ReopenLogsDone answers the REOPEN_LOG_FILES request of c with result.
func (s *Service) ReopenLogsDone(c ConnID, result cs.Error) []Action {
	if _, ok := s.conns[c]; !ok {
		return nil
	}
	return []Action{Respond{c, BareResponse{RespReopenLogFiles, result}.Encode()}}
}

func (s *Service) killNode(c ConnID, r KillNodeRequest) []Action {
	res := cs.OK
	if status, ok := s.st.MemberStatus(r.NodeID); !ok || status != "joined" {
		res = cs.ErrNotExist
	}
	var out []Action
	if res == cs.OK {
		m := KillNodeExec{NodeID: r.NodeID, ReasonLen: r.ReasonLen, Reason: r.Reason}
		out = append(out, Multicast{m.Encode()})
	}
	return append(out, Respond{c, BareResponse{RespKillNode, res}.Encode()})
}

// Deliver handles a cfg ring message delivered from node sender (msg is
// the service message, exec header first; swapped as DecodeExec).
// Undecodable messages are dropped with the returned error.
func (s *Service) Deliver(sender uint32, msg []byte, swapped bool) ([]Action, error) {
	m, err := DecodeExec(msg, swapped)
	if err != nil {
		return nil, fmt.Errorf("cfg delivery from node %d: %w", sender, err)
	}
	local := s.st.LocalNodeID()
	switch m := m.(type) {
	case RingReenableExec:
		return nil, nil
	case KillNodeExec:
		out := []Action{Log{LevelDebug, fmt.Sprintf("request to kill node %d (us=%d)", m.NodeID, local)}}
		if m.NodeID != local {
			return out, nil
		}
		return append(out,
			Log{LevelNotice, fmt.Sprintf("Killed by node %d : %s", sender, m.Reason)},
			Log{LevelError, "Corosync Cluster Engine exiting with status -1 at cfg.c:566."},
			Exit{Status: 255}), nil
	case ShutdownExec:
		out := []Action{Log{LevelNotice, fmt.Sprintf("Node %d was shut down by sysadmin", sender)}}
		if sender == local {
			out = append(out, Shutdown{})
		}
		return out, nil
	case ReloadConfigExec:
		out := []Action{Log{LevelNotice, fmt.Sprintf("Config reload requested by node %d", sender)}}
		s.reloadSeq++
		s.reloads = append(s.reloads, pendingReload{seq: s.reloadSeq, sender: sender, source: m.Source})
		if len(s.reloads) == 1 {
			out = append(out, Reload{Seq: s.reloadSeq, Requester: sender})
		}
		return out, nil
	case CryptoReconfigExec:
		if sender != local {
			return nil, nil
		}
		out := []Action{
			Log{LevelDebug, fmt.Sprintf("Crypto reconfiguration phase %d", m.Phase)},
			CryptoPhase(m),
		}
		if m.Phase < CryptoPhaseCleanup {
			out = append(out, Multicast{CryptoReconfigExec{Phase: CryptoPhaseCleanup}.Encode()})
		}
		return out, nil
	}
	return nil, nil
}

// ReloadDone reports the result of the Reload action seq: CS_OK, or
// CS_ERR_INVALID_PARAM for a file that did not parse or validate.
// cryptoChanged starts a crypto key change. The requesting client, if it
// is ours and still connected, gets the result; the next queued reload
// starts.
func (s *Service) ReloadDone(seq uint64, result cs.Error, cryptoChanged bool) ([]Action, error) {
	if len(s.reloads) == 0 || s.reloads[0].seq != seq {
		return nil, fmt.Errorf("cfg reload done: reload %d is not the one in progress", seq)
	}
	r := s.reloads[0]
	s.reloads = s.reloads[1:]
	var out []Action
	if cryptoChanged {
		out = append(out, Multicast{CryptoReconfigExec{Phase: CryptoPhaseActivate}.Encode()})
	}
	if r.sender == s.st.LocalNodeID() {
		if _, ok := s.conns[ConnID(r.source.Conn)]; ok {
			out = append(out, Respond{ConnID(r.source.Conn), BareResponse{RespReloadConfig, result}.Encode()})
		}
	}
	if len(s.reloads) > 0 {
		out = append(out, Reload{Seq: s.reloads[0].seq, Requester: s.reloads[0].sender})
	}
	return out, nil
}

// shutdownTimeout is cfg.shutdown_timeout (ms), default 5 s.
func (s *Service) shutdownTimeout() time.Duration {
	ms, ok := s.st.ShutdownTimeoutMs()
	if !ok {
		ms = DefaultShutdownMs
	}
	return time.Duration(ms) * time.Millisecond
}
