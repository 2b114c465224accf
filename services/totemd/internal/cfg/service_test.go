package cfg

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

func respOf(t *testing.T, acts []Action) []byte {
	t.Helper()
	if len(acts) != 1 {
		t.Fatalf("want one action, got %d: %v", len(acts), render(t, acts))
	}
	r, ok := acts[0].(Respond)
	if !ok {
		t.Fatalf("want a response, got %T", acts[0])
	}
	return r.Msg
}

func TestLocalGet(t *testing.T) {
	st := newFakeNode()
	st.local = 7
	s := svc(t, st, 1)
	r, err := DecodeLocalGetResponse(respOf(t, req(t, s, 1, BareRequest{ReqLocalGet})))
	if err != nil || r != (LocalGetResponse{Error: cs.OK, NodeID: 7}) {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestRingStatus(t *testing.T) {
	long := netip.MustParseAddr("fe80::1%" + string(make([]byte, 130)))
	tests := []struct {
		name  string
		links []LinkAddr
		want  RingStatusResponse
	}{
		{"udpu", []LinkAddr{{0, netip.MustParseAddr("127.0.0.1")}},
			RingStatusResponse{Error: cs.OK, Count: 1, Interfaces: []Interface{{"0 127.0.0.1", "OK"}}}},
		{"ipv6", []LinkAddr{{0, netip.MustParseAddr("fd00::5")}},
			RingStatusResponse{Error: cs.OK, Count: 1, Interfaces: []Interface{{"0 fd00::5", "OK"}}}},
		{"not in nodelist", nil, RingStatusResponse{Error: cs.OK}},
		{"name too long", []LinkAddr{{0, netip.MustParseAddr("10.0.0.1")}, {1, long}},
			// The client sees count 2 and an empty second entry, as libcfg does.
			RingStatusResponse{Error: cs.ErrNameTooLong, Count: 2, Interfaces: []Interface{{"0 10.0.0.1", "OK"}, {}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeNode()
			st.links[1] = tc.links
			s := svc(t, st, 1)
			msg := respOf(t, req(t, s, 1, BareRequest{ReqRingStatusGet}))
			if len(msg) != 10272 {
				t.Fatalf("response of %d bytes", len(msg))
			}
			got, err := DecodeRingStatusResponse(msg)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestNodeAddrs(t *testing.T) {
	v4 := [16]byte{127, 0, 0, 2}
	tests := []struct {
		name   string
		nodeid uint32
		links  []LinkAddr
		want   NodeAddrsResponse
		size   int
	}{
		{"configured", 2, nil, NodeAddrsResponse{Error: cs.OK, Family: 2, Addrs: [][16]byte{v4}, Slots: 1}, 48},
		{"local via 0", 0, nil, NodeAddrsResponse{Error: cs.OK, Family: 2, Addrs: [][16]byte{{127, 0, 0, 1}}, Slots: 1}, 48},
		{"down but configured", 3, nil, NodeAddrsResponse{Error: cs.OK, Family: 2, Addrs: [][16]byte{{127, 0, 0, 3}}, Slots: 1}, 48},
		{"unknown", 9, nil, NodeAddrsResponse{Error: cs.ErrNotExist}, 32},
		{"ipv6 with zero first bytes is skipped", 4,
			[]LinkAddr{{0, netip.MustParseAddr("::1")}, {1, netip.MustParseAddr("fd00::4")}},
			NodeAddrsResponse{Error: cs.OK, Family: 10, Addrs: [][16]byte{netip.MustParseAddr("fd00::4").As16()}, Slots: 2}, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeNode()
			if tc.links != nil {
				st.links[tc.nodeid] = tc.links
			}
			s := svc(t, st, 1)
			msg := respOf(t, req(t, s, 1, GetNodeAddrsRequest{tc.nodeid}))
			if len(msg) != tc.size {
				t.Fatalf("response of %d bytes, want %d", len(msg), tc.size)
			}
			got, err := DecodeNodeAddrsResponse(msg)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestNodeStatus(t *testing.T) {
	link := func(en, conn uint8, addr string) [MaxLinks]LinkStatus {
		var l [MaxLinks]LinkStatus
		l[0] = LinkStatus{Enabled: en, Connected: conn, MTU: 1410, SrcAddr: addr}
		return l
	}
	tests := []struct {
		name    string
		r       NodeStatusRequest
		unbound bool
		want    NodeStatusResponse
		size    int
	}{
		{"member", NodeStatusRequest{2, 1}, false,
			NodeStatusResponse{cs.OK, NodeStatus{Version: 1, NodeID: 2, Reachable: 1, Links: link(1, 1, "127.0.0.2")}}, 4200},
		{"configured, down", NodeStatusRequest{3, 1}, false,
			NodeStatusResponse{cs.OK, NodeStatus{Version: 1, NodeID: 3, Links: link(1, 0, "127.0.0.3")}}, 4200},
		{"socket unbound", NodeStatusRequest{1, 1}, true,
			NodeStatusResponse{cs.OK, NodeStatus{Version: 1, NodeID: 1, Reachable: 1, Links: link(0, 1, "127.0.0.1")}}, 4200},
		{"unknown node", NodeStatusRequest{99, 1}, false,
			NodeStatusResponse{cs.OK, NodeStatus{Version: 1, NodeID: 99}}, 4200},
		{"version 2", NodeStatusRequest{1, 2}, false, NodeStatusResponse{Error: cs.ErrNotSupported}, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeNode()
			st.unbound = tc.unbound
			s := svc(t, st, 1)
			msg := respOf(t, req(t, s, 1, tc.r))
			if len(msg) != tc.size {
				t.Fatalf("response of %d bytes, want %d", len(msg), tc.size)
			}
			got, err := DecodeNodeStatusResponse(msg)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestKillNode(t *testing.T) {
	s := svc(t, newFakeNode(), 1)
	r := KillNodeRequest{NodeID: 2, Reason: "Killed by corosync-cfgtool"}
	expectTrace(t, "joined", req(t, s, 1, r),
		`mcast cfg.KillNodeExec{NodeID:0x2, ReasonLen:0x1b, Reason:"Killed by corosync-cfgtool"}`,
		"respond c1 id=8 success size=24")
	expectTrace(t, "left", req(t, s, 1, KillNodeRequest{NodeID: 3, Reason: "x"}),
		"respond c1 id=8 CS_ERR_NOT_EXIST size=24")
	expectTrace(t, "unknown", req(t, s, 1, KillNodeRequest{NodeID: 4, Reason: "x"}),
		"respond c1 id=8 CS_ERR_NOT_EXIST size=24")
}

func TestDeliverKillNode(t *testing.T) {
	s := svc(t, newFakeNode(), 0)
	m := KillNodeExec{NodeID: 2, ReasonLen: 5, Reason: "test"}.Encode()
	expectTrace(t, "other target", must(t)(s.Deliver(3, m, false)),
		"log debug request to kill node 2 (us=1)")
	m = KillNodeExec{NodeID: 1, ReasonLen: 27, Reason: "Killed by corosync-cfgtool"}.Encode()
	expectTrace(t, "us", must(t)(s.Deliver(1, m, false)),
		"log debug request to kill node 1 (us=1)",
		"log notice Killed by node 1 : Killed by corosync-cfgtool",
		"log error Corosync Cluster Engine exiting with status -1 at cfg.c:566.",
		"exit 255")
}

func TestDeliverShutdown(t *testing.T) {
	s := svc(t, newFakeNode(), 0)
	m := ShutdownExec{}.Encode()
	expectTrace(t, "other node", must(t)(s.Deliver(2, m, false)), "log notice Node 2 was shut down by sysadmin")
	expectTrace(t, "us", must(t)(s.Deliver(1, m, false)), "log notice Node 1 was shut down by sysadmin", "shutdown")
	expectTrace(t, "ring reenable is a no-op", must(t)(s.Deliver(2, RingReenableExec{Source{2, 9}}.Encode(), false)))
}

func TestReload(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	expectTrace(t, "request", req(t, s, 2, BareRequest{ReqReloadConfig}),
		"mcast cfg.ReloadConfigExec{Source:cfg.Source{NodeID:0x1, Conn:0x2}}")
	own := ReloadConfigExec{Source{1, 2}}.Encode()
	peer := ReloadConfigExec{Source{5, 0xdeadbeef}}.Encode()
	expectTrace(t, "own delivered", must(t)(s.Deliver(1, own, false)),
		"log notice Config reload requested by node 1", "reload seq=1 from=1")
	expectTrace(t, "peer's queued behind", must(t)(s.Deliver(5, peer, false)),
		"log notice Config reload requested by node 5")
	if _, err := s.ReloadDone(2, cs.OK, false); err == nil {
		t.Fatal("ReloadDone for a reload not in progress succeeded")
	}
	expectTrace(t, "own done", must(t)(s.ReloadDone(1, cs.ErrInvalidParam, false)),
		"respond c2 id=14 CS_ERR_INVALID_PARAM size=24", "reload seq=2 from=5")
	expectTrace(t, "peer's done with crypto change", must(t)(s.ReloadDone(2, cs.OK, true)),
		"mcast cfg.CryptoReconfigExec{Phase:0x0}")
	// A requester that went away gets nothing.
	req(t, s, 1, BareRequest{ReqReloadConfig})
	s.Disconnect(1)
	must(t)(s.Deliver(1, ReloadConfigExec{Source{1, 1}}.Encode(), false))
	expectTrace(t, "gone requester", must(t)(s.ReloadDone(3, cs.OK, false)))
}

func TestCryptoReconfigPhases(t *testing.T) {
	s := svc(t, newFakeNode(), 0)
	expectTrace(t, "peer's phase 0", must(t)(s.Deliver(2, CryptoReconfigExec{0}.Encode(), false)))
	expectTrace(t, "own phase 0", must(t)(s.Deliver(1, CryptoReconfigExec{0}.Encode(), false)),
		"log debug Crypto reconfiguration phase 0", "crypto phase 0", "mcast cfg.CryptoReconfigExec{Phase:0x1}")
	expectTrace(t, "own phase 1", must(t)(s.Deliver(1, CryptoReconfigExec{1}.Encode(), false)),
		"log debug Crypto reconfiguration phase 1", "crypto phase 1")
}

func TestReopenLogs(t *testing.T) {
	s := svc(t, newFakeNode(), 1)
	expectTrace(t, "request", req(t, s, 1, BareRequest{ReqReopenLogFiles}),
		"log debug Reopening logging files", "reopen logs c1")
	expectTrace(t, "done", s.ReopenLogsDone(1, cs.OK), "respond c1 id=15 success size=24")
}

func TestRingReenableNotSupported(t *testing.T) {
	s := svc(t, newFakeNode(), 1)
	expectTrace(t, "reenable", req(t, s, 1, BareRequest{ReqRingReenable}),
		"respond c1 id=1 CS_ERR_NOT_SUPPORTED size=24")
}

func TestGenericReplies(t *testing.T) {
	st := newFakeNode()
	s := svc(t, st, 1)
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"unknown id 12", newReq(12, 16)},
		{"negative id", newReq(-5, 16)},
		{"short killnode", newReq(ReqKillNode, 24)},
		{"size field lies", func() []byte { b := newReq(ReqLocalGet, 16); b[8] = 99; return b }()},
		{"shorter than a header", []byte{6, 0, 0}},
	} {
		acts, err := s.Request(1, tc.msg)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		expectTrace(t, tc.name, acts, "respond c1 id=0 CS_ERR_INVALID_PARAM size=24")
	}
	st.blocked = true
	expectTrace(t, "flow control", req(t, s, 1, BareRequest{ReqReloadConfig}),
		"respond c1 id=0 CS_ERR_TRY_AGAIN size=24")
	expectTrace(t, "not flow controlled", req(t, s, 1, BareRequest{ReqLocalGet}),
		"respond c1 id=12 success size=32")
	if _, err := s.Request(42, BareRequest{ReqLocalGet}.Encode()); err == nil {
		t.Error("request on an unregistered connection accepted")
	}
	if err := s.Connect(1); err == nil {
		t.Error("duplicate connect accepted")
	}
}

func TestFlowControlClasses(t *testing.T) {
	want := map[ReqID]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: false, 6: false, 7: true, 8: false, 9: false, 10: true, 11: true, 12: false, -1: false}
	for id, fc := range want {
		if FlowControlRequired(id) != fc {
			t.Errorf("FlowControlRequired(%d) = %v", id, !fc)
		}
	}
}
