package cfg

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// fakeNode is a StatusProvider holding plain values, as the driver's
// snapshot would.
type fakeNode struct {
	local     uint32
	links     map[uint32][]LinkAddr
	members   map[uint32]bool
	status    map[uint32]string
	unbound   bool
	mtu       uint32
	timeoutMs uint32
	hasTO     bool
	blocked   bool
}

func newFakeNode() *fakeNode {
	return &fakeNode{
		local: 1,
		links: map[uint32][]LinkAddr{
			1: {{0, netip.MustParseAddr("127.0.0.1")}},
			2: {{0, netip.MustParseAddr("127.0.0.2")}},
			3: {{0, netip.MustParseAddr("127.0.0.3")}},
		},
		members: map[uint32]bool{1: true, 2: true},
		status:  map[uint32]string{1: "joined", 2: "joined", 3: "left"},
		mtu:     1410,
	}
}

func (f *fakeNode) LocalNodeID() uint32                  { return f.local }
func (f *fakeNode) NodeLinks(n uint32) []LinkAddr        { return f.links[n] }
func (f *fakeNode) Reachable(n uint32) bool              { return f.members[n] }
func (f *fakeNode) LinkEnabled() bool                    { return !f.unbound }
func (f *fakeNode) NetMTU() uint32                       { return f.mtu }
func (f *fakeNode) MemberStatus(n uint32) (string, bool) { s, ok := f.status[n]; return s, ok }
func (f *fakeNode) ShutdownTimeoutMs() (uint32, bool)    { return f.timeoutMs, f.hasTO }
func (f *fakeNode) SendingAllowed() bool                 { return !f.blocked }

// render turns actions into one compact line each, decoding the bytes
// they carry so that tests read like a trace.
func render(t *testing.T, acts []Action) []string {
	t.Helper()
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Respond:
			h, err := DecodeRespHeader(a.Msg)
			if err != nil {
				t.Fatalf("respond to %d: %v", a.Conn, err)
			}
			out = append(out, fmt.Sprintf("respond c%d id=%d %s size=%d", a.Conn, h.ID, h.Error.Strerror(), h.Size))
		case SendEvent:
			ev, err := DecodeTestShutdownEvent(a.Msg)
			if err != nil {
				t.Fatalf("event to %d: %v", a.Conn, err)
			}
			out = append(out, fmt.Sprintf("event c%d testshutdown %s flags=%d", a.Conn, ev.Error.Strerror(), ev.Flags))
		case Multicast:
			m, err := DecodeExec(a.Msg, false)
			if err != nil {
				t.Fatalf("multicast: %v", err)
			}
			out = append(out, fmt.Sprintf("mcast %#v", m))
		case StartTimer:
			out = append(out, fmt.Sprintf("timer start gen=%d %v", a.Gen, a.After))
		case StopTimer:
			out = append(out, fmt.Sprintf("timer stop gen=%d", a.Gen))
		case Reload:
			out = append(out, fmt.Sprintf("reload seq=%d from=%d", a.Seq, a.Requester))
		case CryptoPhase:
			out = append(out, fmt.Sprintf("crypto phase %d", a.Phase))
		case ReopenLogs:
			out = append(out, fmt.Sprintf("reopen logs c%d", a.Conn))
		case Log:
			out = append(out, fmt.Sprintf("log %s %s", a.Level, a.Msg))
		case Exit:
			out = append(out, fmt.Sprintf("exit %d", a.Status))
		case Shutdown:
			out = append(out, "shutdown")
		default:
			t.Fatalf("unknown action %T", a)
		}
	}
	return out
}

func expectTrace(t *testing.T, step string, acts []Action, want ...string) {
	t.Helper()
	got := render(t, acts)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got:\n  %s\nwant:\n  %s", step, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// must fails the test on an error from the core: must(t)(s.Deliver(…)).
func must(t *testing.T) func([]Action, error) []Action {
	return func(acts []Action, err error) []Action {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
}
