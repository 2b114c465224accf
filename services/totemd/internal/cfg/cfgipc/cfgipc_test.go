package cfgipc

import (
	"bytes"
	"context"
	"net/netip"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/client"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/corotest"
)

// oneNode is the status of a single-node ring at 127.0.0.1, as the real
// corosync the recorded outputs came from.
type oneNode struct{}

func (oneNode) LocalNodeID() uint32 { return 1 }
func (oneNode) NodeLinks(n uint32) []cfg.LinkAddr {
	if n != 1 {
		return nil
	}
	return []cfg.LinkAddr{{Link: 0, Addr: netip.MustParseAddr("127.0.0.1")}}
}
func (oneNode) Reachable(n uint32) bool { return n == 1 }
func (oneNode) LinkEnabled() bool       { return true }
func (oneNode) NetMTU() uint32          { return 1410 }
func (oneNode) MemberStatus(n uint32) (string, bool) {
	return "joined", n == 1
}
func (oneNode) ShutdownTimeoutMs() (uint32, bool) { return 300, true }
func (oneNode) SendingAllowed() bool              { return true }

// loopNode is a minimal single-node driver: one goroutine owns the core,
// ring messages come straight back in order (a one-node ring delivers
// its own SAFE messages), timers are real, reload and log reopening
// succeed. It records what the node was told to do.
type loopNode struct {
	fns     chan func()
	ring    chan func() // deliveries and completions, in order
	ep      *Endpoint
	svc     *cfg.Service
	mu      sync.Mutex
	timers  map[uint64]*time.Timer
	logs    []string
	exited  chan int
	stopped chan struct{}
}

func newLoopNode(t *testing.T) *loopNode {
	n := &loopNode{
		fns: make(chan func()), ring: make(chan func(), 64), svc: cfg.New(oneNode{}),
		timers: map[uint64]*time.Timer{}, exited: make(chan int, 1), stopped: make(chan struct{}, 1),
	}
	n.ep = New(Config{Service: n.svc, Other: n.other})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case f := <-n.fns:
				f()
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case f := <-n.ring:
				n.Submit(f)
			case <-ctx.Done():
				return
			}
		}
	}()
	return n
}

func (n *loopNode) Submit(f func()) {
	done := make(chan struct{})
	n.fns <- func() { f(); close(done) }
	<-done
}

// Post implements svchost.Loop.
func (n *loopNode) Post(f func()) bool {
	n.fns <- f
	return true
}

func (n *loopNode) other(a cfg.Action) {
	switch a := a.(type) {
	case cfg.Multicast:
		n.ring <- func() {
			acts, err := n.svc.Deliver(1, a.Msg, false)
			if err != nil {
				panic(err)
			}
			n.ep.Carry(acts)
		}
	case cfg.StartTimer:
		n.timers[a.Gen] = time.AfterFunc(a.After, func() {
			n.ring <- func() { n.ep.Carry(n.svc.TimerExpired(a.Gen)) }
		})
	case cfg.StopTimer:
		if tm, ok := n.timers[a.Gen]; ok {
			tm.Stop()
		}
	case cfg.Reload:
		n.ring <- func() {
			acts, err := n.svc.ReloadDone(a.Seq, cs.OK, false)
			if err != nil {
				panic(err)
			}
			n.ep.Carry(acts)
		}
	case cfg.ReopenLogs:
		n.ring <- func() { n.ep.Carry(n.svc.ReopenLogsDone(a.Conn, cs.OK)) }
	case cfg.Log:
		n.mu.Lock()
		n.logs = append(n.logs, a.Level.String()+" "+a.Msg)
		n.mu.Unlock()
	case cfg.Exit:
		n.exited <- a.Status
	case cfg.Shutdown:
		n.stopped <- struct{}{}
	}
}

func (n *loopNode) logged(line string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.logs {
		if l == line {
			return true
		}
	}
	return false
}

// serve listens on "cfg" with the loop node behind it (root only: the
// uidgid rules have no keys here).
func serve(t *testing.T, n *loopNode, tr qbipc.Transport) *svchost.Endpoint {
	srv, err := svchost.ListenEndpoint(svchost.EndpointConfig{Service: cfg.IPCName, Transport: tr, Loop: n, Handler: n.ep})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

// tool runs the real corosync-cfgtool.
func tool(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(corotest.CfgtoolBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), exit
}

func expectTool(t *testing.T, args []string, stdout, stderr string, exit int) {
	t.Helper()
	o, e, x := tool(t, args...)
	if o != stdout || e != stderr || x != exit {
		t.Errorf("corosync-cfgtool %v: exit %d\nstdout %q\nstderr %q\nwant exit %d stdout %q stderr %q", args, x, o, e, exit, stdout, stderr)
	}
}

// TestRealToolAgainstCore: Debian's unmodified corosync-cfgtool (libcfg
// 3.1.7, over real libqb) talks to the needle core and prints what it
// printed against a real corosync (cmd/cfgtool/testdata/real/onenode.txt).
func TestRealToolAgainstCore(t *testing.T) {
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	for _, tr := range []qbipc.Transport{qbipc.SHM, qbipc.Socket} {
		t.Run(tr.String(), func(t *testing.T) {
			n := newLoopNode(t)
			serve(t, n, tr)
			expectTool(t, []string{"-a", "1"}, "127.0.0.1\n", "", 0)
			expectTool(t, []string{"-a", "2"}, "", "Could not get node address for nodeid 2\n", 1)
			expectTool(t, []string{"-k", "2"}, "Killing node 2\n", "Could not kill node (error = CS_ERR_NOT_EXIST)\n", 1)
			expectTool(t, []string{"-L"}, "", "", 0)
			expectTool(t, []string{"-R"}, "Reloading corosync.conf...\nDone\n", "", 0)
			if !n.logged("notice Config reload requested by node 1") {
				t.Error("reload not delivered")
			}

			// A Go tracker vetoes the tool's -H; --force overrides it.
			ctx := context.Background()
			tracker, err := client.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tracker.Close()
			if err := tracker.TrackStart(ctx); err != nil {
				t.Fatal(err)
			}
			votes := make(chan error, 2)
			go func() {
				for i := 0; i < 2; i++ {
					if _, err := tracker.NextEvent(ctx); err != nil {
						votes <- err
						return
					}
					votes <- tracker.ReplyToShutdown(ctx, false)
				}
			}()
			expectTool(t, []string{"-H"}, "Shutting down corosync\n", "Could not shutdown (error = 10)\n", 0)
			if err := <-votes; err != nil {
				t.Fatal(err)
			}
			select {
			case <-n.stopped:
				t.Fatal("vetoed shutdown went ahead")
			default:
			}
			expectTool(t, []string{"-H", "--force"}, "Shutting down corosync\n", "", 0)
			if err := <-votes; err != nil {
				t.Fatal(err)
			}
			select {
			case <-n.stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("forced shutdown not started")
			}

			expectTool(t, []string{"-k", "1"}, "Killing node 1\n", "", 0)
			select {
			case st := <-n.exited:
				if st != 255 || !n.logged("notice Killed by node 1 : Killed by corosync-cfgtool") {
					t.Fatalf("exit %d, logs %q", st, n.logs)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("node not killed")
			}
		})
	}
}
