package svchost

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// clientEnv makes the test binary a one-shot libqb client of the named
// service that prints "OK" or the errno of its connection.
const clientEnv = "SVCHOST_TEST_CLIENT"

func TestMain(m *testing.M) {
	if svc := os.Getenv(clientEnv); svc != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := qbipc.Dial(ctx, svc, qbipc.DialOptions{})
		if err != nil {
			fmt.Print(qbipc.Errno(err).Error())
			os.Exit(0)
		}
		c.Close()
		fmt.Print("OK")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var namespaces = []nstest.Tmpfs{{Dir: "/dev/shm", Opts: "mode=1777"}}

// clientAs connects to service as uid:gid in a child process.
func clientAs(t *testing.T, service string, uid, gid uint32) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "svchost-client-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), clientEnv+"="+service)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as %d:%d: %v: %s", uid, gid, err, out)
	}
	return strings.TrimSpace(string(out))
}

func dialEndpoint(t *testing.T, name string) *qbipc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for range 100 {
		var c *qbipc.Client
		if c, err = qbipc.Dial(ctx, name, qbipc.DialOptions{}); err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("dial %s: %v", name, err)
	return nil
}

// TestEndpointResponses: one daemon serves two libqb names; a request is
// answered at once or later (from a timer), in order, and the client's
// stats count them.
func TestEndpointResponses(t *testing.T) {
	if !nstest.Run(t, namespaces...) {
		return
	}
	svc := &testService{}
	svc.onRequest = func(h Host, c *Client, msg []byte) error {
		id := int32(binary.LittleEndian.Uint32(msg))
		if id == 2 {
			h.After(50*time.Millisecond, func() {
				if err := c.Respond(qbipc.NewResponse(id, 0, 4)); err != nil {
					svc.record("respond failed: %v", err)
				}
			})
			return nil
		}
		return c.Respond(qbipc.NewResponse(id, 0, 4))
	}
	rg := startRig(t, svc, Options{Endpoints: []string{"svctest-a", "svctest-b"}})
	rg.accept(1)
	waitFor(t, "attached", func() bool { return svc.has("attached") == 1 })
	// Both endpoints' setup sockets were handed to totemd's keeper.
	waitFor(t, "sockets kept", func() bool { return slices.Equal(rg.keeper.names(), []string{"svctest-a", "svctest-b"}) })
	for _, name := range []string{"svctest-a", "svctest-b"} {
		c := dialEndpoint(t, name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, id := range []int32{1, 2, 1} {
			start := time.Now()
			resp, err := c.Request(ctx, qbipc.NewRequest(id, 0))
			if err != nil {
				t.Fatalf("%s request %d: %v", name, id, err)
			}
			if got := int32(binary.LittleEndian.Uint32(resp)); got != id {
				t.Fatalf("%s: response id %d to request %d", name, got, id)
			}
			if id == 2 && time.Since(start) < 40*time.Millisecond {
				t.Errorf("deferred response came after %v", time.Since(start))
			}
		}
		cancel()
		rg.do(func() {
			for _, ep := range rg.d.Endpoints() {
				for _, cl := range ep.Clients() {
					if st := cl.Stats(); cl.Endpoint == name && (st.Requests != 3 || st.Responses != 3) {
						t.Errorf("%s stats %+v", name, st)
					}
				}
			}
		})
	}
}

// TestUIDGIDLive: an unlisted user is refused (and the refusal logged);
// once cmapd reports uidgid.gid.<gid> = 1 its next connection is
// accepted, without any restart; deleting the key refuses it again.
func TestUIDGIDLive(t *testing.T) {
	if !nstest.Run(t, namespaces...) {
		return
	}
	svc := &testService{}
	rg := startRig(t, svc, Options{Endpoints: []string{"svctest"}})
	p := rg.accept(1)
	dialEndpoint(t, "svctest") // root: always
	// Before cmapd answered, the file's uidgid section holds.
	if got := clientAs(t, "svctest", 65534, 4242); got != "OK" {
		t.Fatalf("gid of the file's uidgid section: %s", got)
	}
	for range 2 { // the uidgid. and logging. tracks
		p.answerCmap(p.recvKind(ipcproto.KindRequest), nil)
	}
	if got := clientAs(t, "svctest", 65534, 65534); got != "permission denied" {
		t.Fatalf("unlisted user: %s", got)
	}
	if !strings.Contains(rg.log.String(), "Denied connection attempt from 65534:65534") {
		t.Errorf("refusal not logged:\n%s", rg.log.String())
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 1, Service: cmapService,
		Payload: cmapreq.Changed([]cmapreq.Entry{{Key: "uidgid.gid.65534", Value: value.U8(1)}})})
	p.recvKind(ipcproto.KindResponse)
	if got := clientAs(t, "svctest", 65534, 65534); got != "OK" {
		t.Fatalf("after uidgid.gid.65534=1: %s", got)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 2, Service: cmapService,
		Payload: cmapreq.Changed([]cmapreq.Entry{{Key: "uidgid.gid.65534", Deleted: true}})})
	p.recvKind(ipcproto.KindResponse)
	if got := clientAs(t, "svctest", 65534, 65534); got != "permission denied" {
		t.Fatalf("after deleting the key: %s", got)
	}
}

// TestClientStatsPublished: a daemon other than cmapd sends each client's
// stats.ipcs.service<S>.<pid>.<conn>.* keys to cmapd's stats map on
// connect (S from the endpoint's name) and deletes them on disconnect.
func TestClientStatsPublished(t *testing.T) {
	if !nstest.Run(t, namespaces...) {
		return
	}
	svc := &testService{}
	rg := startRig(t, svc, Options{Endpoints: []string{"quorum"}})
	p := rg.accept(1)
	for range 2 { // the uidgid. and logging. tracks
		p.answerCmap(p.recvKind(ipcproto.KindRequest), nil)
	}
	c := dialEndpoint(t, "quorum")
	stats := func(m *ipcproto.Msg) []cmapwire.Request {
		t.Helper()
		msgs, err := cmapreq.Split(m.Payload, cmapwire.ReqHeaderSize)
		if err != nil || m.Service != cmapService {
			t.Fatalf("stats batch %+v: %v", m, err)
		}
		var out []cmapwire.Request
		for _, b := range msgs {
			r, err := cmapwire.DecodeRequest(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if sm, ok := out[0].(cmapwire.SetCurrentMap); !ok || sm.Map != 1 {
			t.Fatalf("batch does not switch to the stats map: %+v", out[0])
		}
		return out[1:]
	}
	put := stats(p.recvKind(ipcproto.KindRequest))
	prefix := fmt.Sprintf("stats.ipcs.service3.%d.", os.Getpid())
	if len(put) != 13 {
		t.Fatalf("%d keys published", len(put))
	}
	for _, r := range put {
		if s, ok := r.(cmapwire.Set); !ok || !strings.HasPrefix(s.Key, prefix) {
			t.Fatalf("published %+v, want keys below %s", r, prefix)
		}
	}
	c.Close()
	for {
		reqs := stats(p.recvKind(ipcproto.KindRequest))
		if _, ok := reqs[0].(cmapwire.Delete); ok {
			if len(reqs) != 13 {
				t.Fatalf("%d keys deleted", len(reqs))
			}
			break
		}
	}
}
