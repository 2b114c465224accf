package vqsimtest

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// Why the relays are read with strace
//
// vqsim prints only each node's partition, quorate flag, ring and view
// list; votes, expected votes and the node flags never reach its output
// (its quorum callback gets nothing else; the recalculations are read
// from its nodes' log, vqlog.go). But
// every votequorum message a node multicasts goes through vqsim's
// controller, which reads it from the node's socket and relays it to the
// node's partition (vqmain.c, one read per message, relayed at once). The
// NODEINFO each node sends from sync_process carries that node's votes,
// expected votes and flags as corosync's own votequorum holds them. So
// vqsim runs under strace, tracing the controller's reads only (not its
// forked nodes): the trace is every relayed message, in relay order,
// byte for byte. The Explorer then keeps only the orderings whose
// multicasts are exactly those, so every NODEINFO vqsim's votequorum sent
// (votes, expected votes, flags) is compared with the core's, and the
// relay order, instead of being explored, is the one vqsim took.

// Tracer is the program that records the controller's reads.
const Tracer = "strace"

// traceArgs are strace's arguments: the controller's read calls only (not
// the forked nodes: no -f), every byte in hex, to file, no signal lines.
func traceArgs(file string) []string {
	return []string{"-qq", "-e", "trace=read", "-e", "signal=none", "-xx", "-s", "65536", "-o", file}
}

// vqsim's controller message header (vqsim.h: type, from_nodeid, param).
const (
	vqsimHeader = 12
	vqmsgExec   = 4 // VQMSG_EXEC: a votequorum multicast to relay
)

// Relay is one votequorum message vqsim's controller relayed to its
// sender's partition.
type Relay struct {
	From uint32
	Msg  vq.Message
}

func (r Relay) String() string {
	switch m := r.Msg.(type) {
	case vq.NodeInfo:
		return fmt.Sprintf("%d:NODEINFO(node %d votes %d expected %d flags %#x)", r.From, m.NodeID, m.Votes, m.ExpectedVotes, m.Flags)
	}
	return fmt.Sprintf("%d:%+v", r.From, r.Msg)
}

var readRE = regexp.MustCompile(`^read\(\d+, "((?:\\x[0-9a-f]{2})*)"(\.\.\.)?, \d+\) = (\d+)$`)

// Relayed returns the messages vqsim relayed since the last call, in relay
// order. Only whole lines are consumed (strace writes a line when the
// read returns).
func (s *Session) Relayed() ([]Relay, error) {
	out := []Relay{}
	err := tailLines(s.trace, &s.traceOff, "relay trace", false, func(line string) error {
		rl, ok, err := parseRead(line)
		if ok {
			out = append(out, rl)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseRead decodes one strace line; ok is false for reads that are not a
// relayed votequorum message (stdin, a node's quorum report, an EAGAIN).
func parseRead(line string) (Relay, bool, error) {
	m := readRE.FindStringSubmatch(line)
	if m == nil {
		return Relay{}, false, nil
	}
	n, _ := strconv.Atoi(m[3])
	if m[2] != "" || len(m[1]) != 4*n {
		return Relay{}, false, fmt.Errorf("truncated: %d bytes shown of %d", len(m[1])/4, n)
	}
	b := make([]byte, n)
	for i := range b {
		v, err := strconv.ParseUint(m[1][4*i+2:4*i+4], 16, 8)
		if err != nil {
			return Relay{}, false, err
		}
		b[i] = byte(v)
	}
	if n < vqsimHeader || binary.LittleEndian.Uint32(b) != vqmsgExec {
		return Relay{}, false, nil
	}
	msg, err := vq.Decode(b[vqsimHeader:], false)
	if err != nil {
		return Relay{}, false, fmt.Errorf("a relayed message the codec refuses: %w", err)
	}
	return Relay{From: binary.LittleEndian.Uint32(b[4:]), Msg: msg}, true, nil
}
