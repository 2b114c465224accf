package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread moved into the named network namespace
// (ip netns's /run/netns/<ns>). Sockets fn creates stay in that namespace
// for good, whichever thread uses them later. If the thread cannot be moved
// back it stays locked, so the runtime retires it with the goroutine.
func inNetns[T any](ns string, fn func() (T, error)) (T, error) {
	var zero T
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer self.Close()
	target, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("setns %s: %w", ns, err)
	}
	v, ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return v, fmt.Errorf("setns back from %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return v, ferr
}

// capture records the IPv4 packets of Totem traffic (UDP to port 5405,
// and any later fragments) that one node sends and receives on its LAN
// interface, as they are on the wire: a packet socket in the node's
// namespace, as tcpdump would use.
type capture struct {
	fd   int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	pkts [][]byte
	cut  int // segmented sends cut into their datagrams
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, ns string) *capture {
	t.Helper()
	fd, err := inNetns(ns, func() (int, error) {
		return unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	})
	if err != nil {
		t.Fatalf("packet socket in %s: %v", ns, err)
	}
	// A packet socket sees a segmented send (totemd's UDP_SEGMENT runs)
	// as the one buffer the kernel cuts into datagrams later; with a
	// virtio-net header it also learns the segment size, so the capture
	// can cut it as the wire carries it (capture.add).
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	c := &capture{fd: fd, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	t.Cleanup(func() { c.finish() })
	return c
}

func (c *capture) loop() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		c.add(buf[:n])
	}
}

// Layout of what the capture socket reads: a virtio-net header, then the
// Ethernet frame.
const (
	vnetHdrLen   = 10
	etherHdrLen  = 14
	vnetGSOUDPL4 = 5 // VIRTIO_NET_HDR_GSO_UDP_L4
)

// add records the Totem packets in one read: the IPv4 packet, or for a
// segmented UDP send each datagram it becomes on the wire (IP and UDP
// headers copied, lengths set to the segment's).
func (c *capture) add(b []byte) {
	if len(b) < vnetHdrLen+etherHdrLen || binary.BigEndian.Uint16(b[vnetHdrLen+12:]) != unix.ETH_P_IP {
		return
	}
	gsoType, gsoSize := b[1]&0x7f, int(binary.LittleEndian.Uint16(b[4:6]))
	p := b[vnetHdrLen+etherHdrLen:]
	if !totemPacket(p) {
		return
	}
	var out [][]byte
	ihl := int(p[0]&0x0f) * 4
	if gsoType == vnetGSOUDPL4 && gsoSize > 0 && len(p) > ihl+8+gsoSize {
		for payload := p[ihl+8:]; len(payload) > 0; {
			seg := payload[:min(gsoSize, len(payload))]
			payload = payload[len(seg):]
			q := append(append(append([]byte(nil), p[:ihl]...), p[ihl:ihl+8]...), seg...)
			binary.BigEndian.PutUint16(q[2:4], uint16(len(q)))
			binary.BigEndian.PutUint16(q[ihl+4:], uint16(8+len(seg)))
			out = append(out, q)
		}
		c.mu.Lock()
		c.cut++
		c.mu.Unlock()
	} else {
		out = append(out, append([]byte(nil), p...))
	}
	c.mu.Lock()
	c.pkts = append(c.pkts, out...)
	c.mu.Unlock()
}

// totemPacket: IPv4, UDP, between two different addresses (a node's
// datagrams to itself go over lo and could not be injected from outside
// anyway), first fragment to port 5405 or a later fragment.
func totemPacket(p []byte) bool {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return false
	}
	ihl := int(p[0]&0x0f) * 4
	if string(p[12:16]) == string(p[16:20]) || len(p) < ihl {
		return false
	}
	if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 {
		return true
	}
	return len(p) >= ihl+8 && binary.BigEndian.Uint16(p[ihl+2:]) == 5405
}

// finish stops the capture and returns what it recorded.
func (c *capture) finish() [][]byte {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
		unix.Close(c.fd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkts
}

// replayFrom sends captured IPv4 packets again from the outsider's
// namespace, through a raw socket: each keeps its source address (a
// member's) and its payload byte for byte; it goes to its original
// destination and to every other member in dsts. The UDP checksum is
// zeroed (allowed for IPv4: a packet socket may have seen a partial
// checksum the NIC was to finish), the kernel fills in the IP header's.
// It paces itself to spread the packets over about dur and returns how
// many packets the kernel accepted per destination.
func replayFrom(t *testing.T, ns string, pkts [][]byte, dsts []netip.Addr, dur time.Duration) map[netip.Addr]int {
	t.Helper()
	fd, err := inNetns(ns, func() (int, error) {
		return unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	})
	if err != nil {
		t.Fatalf("raw socket in %s: %v", ns, err)
	}
	defer unix.Close(fd)
	sent := map[netip.Addr]int{}
	end := time.Now().Add(dur)
	buf := make([]byte, 65536)
	for round := 0; time.Now().Before(end); round++ {
		for i, p := range pkts {
			n := copy(buf, p)
			q := buf[:n]
			ihl := int(q[0]&0x0f) * 4
			if binary.BigEndian.Uint16(q[6:8])&0x1fff == 0 && len(q) >= ihl+8 {
				q[ihl+6], q[ihl+7] = 0, 0
			}
			for _, d := range dsts {
				a := d.As4()
				copy(q[16:20], a[:])
				if err := unix.Sendto(fd, q, 0, &unix.SockaddrInet4{Addr: a}); err == nil {
					sent[d]++
				}
			}
			if i%8 == 7 {
				time.Sleep(2 * time.Millisecond)
			}
			if !time.Now().Before(end) {
				break
			}
		}
	}
	return sent
}

var (
	droppedLine = regexp.MustCompile(`dropped datagram .*auth_failures=(\d+) .*replayed=(\d+)`)
	newMembLine = regexp.MustCompile(`new membership ring=`)
)

// TestNeedleEncryptedRingRefusesReplays captures the Totem traffic of an
// encrypted 3-node ring from its formation (joins, commit tokens) through
// a few seconds of steady state, then sends every captured packet again
// from a fourth namespace, outside the nodelist but on the same LAN, with
// the original member's source address — to the node it was for and to
// the other two. Before replay protection one captured join made the ring
// re-form hundreds of times; now no membership changes, every node counts
// the replays (the counter rises in its drop warnings, no authentication
// failures among them), and it warns at most once a second. Then node 3
// is killed and restarted: the others take its new epoch (the ring
// re-forms with it), and the same capture, now node 3's previous life,
// changes nothing either.
//
// The same capture and replay run first against corosync 3.1.7 (subtest
// "corosync"): its udp/udpu transports have no crypto, so it runs knet
// with the same aes256/sha256 and key; the replay's membership changes
// are counted and logged, not asserted: how many depends on what the
// capture holds (while writing this test one run caused none, three
// others 49 to 127 per node in 5 s).
func TestNeedleEncryptedRingRefusesReplays(t *testing.T) {
	needNamespaces(t)
	t.Run("corosync", testReplayCorosyncKnet)
	t.Run("needle", testReplayNeedle)
}

// replayKey is the authkey both subtests use.
func replayKey() []byte {
	key := make([]byte, 256)
	for i := range key {
		key[i] = byte(i * 7)
	}
	return key
}

// testReplayCorosyncKnet: three corosync 3.1.7 nodes on knet with
// crypto_cipher aes256 and crypto_hash sha256, captured from formation
// through a few seconds of steady state on node 1, the capture replayed
// from a fourth namespace for 5 s as for needle.
func testReplayCorosyncKnet(t *testing.T) {
	needCorosync(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Transport: "knet", Token: 1000, Extra: "crypto_cipher: aes256\n\tcrypto_hash: sha256"}); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Nodes {
		if err := nd.WriteFile("etc/authkey", replayKey(), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	outsider, err := c.AddNode()
	if err != nil {
		t.Fatal(err)
	}
	members := c.Nodes[:3]
	capt := startCapture(t, members[0].NS)
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	for _, nd := range members {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, nd := range members {
		waitMembers(t, nd, []int{1, 2, 3}, 30*time.Second)
	}
	if r := ctl(t, members[0], debianCmapctl, "-g", "totem.crypto_cipher"); !strings.Contains(r.Stdout, "aes256") {
		t.Fatalf("corosync does not run with aes256: %s", r)
	}
	time.Sleep(3 * time.Second) // steady state
	pkts := capt.finish()
	if len(pkts) < 20 {
		t.Fatalf("captured only %d knet packets on node 1", len(pkts))
	}
	sizes := map[int]int{}
	for _, p := range pkts {
		sizes[len(p)-28]++
	}
	t.Logf("corosync (knet, aes256+sha256): captured %d packets on node 1's LAN interface (UDP payload sizes: %v)", len(pkts), sizes)
	var dsts []netip.Addr
	for _, nd := range members {
		dsts = append(dsts, nd.Addr)
	}
	before := make([]int, len(procs))
	logAt := make([]int, len(procs))
	statsBefore := make([]map[string]uint64, len(procs))
	for i, p := range procs {
		before[i] = newMemberships(p)
		logAt[i] = len(p.Output())
		statsBefore[i] = corosyncRxStats(t, members[i])
	}
	start := time.Now()
	sent := replayFrom(t, outsider.NS, pkts, dsts, 5*time.Second)
	elapsed := time.Since(start)
	t.Logf("corosync: replayed for %v: %v packets per destination", elapsed.Round(time.Millisecond), sent)
	time.Sleep(3 * time.Second) // as for needle: time for any re-formation to show
	for i, p := range procs {
		out := p.Output()[logAt[i]:]
		t.Logf("corosync: node %d: %d membership changes during the replay; log since: %d lines mentioning knet links down, %d \"Retransmit List\", %d crypto/decrypt errors",
			i+1, newMemberships(p)-before[i], strings.Count(out, "is down"), strings.Count(out, "Retransmit List"),
			strings.Count(out, "decrypt")+strings.Count(out, "crypto"))
		for j, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if j == 5 {
				break
			}
			if l != "" {
				t.Logf("corosync: node %d log: %s", i+1, strings.TrimSpace(l))
			}
		}
	}
	for i, nd := range members {
		after := corosyncRxStats(t, nd)
		var d []string
		for _, k := range corosyncRxStatNames {
			d = append(d, fmt.Sprintf("%s +%d", k, after[k]-statsBefore[i][k]))
		}
		t.Logf("corosync: node %d counters over the replay: %s", nd.Index+1, strings.Join(d, ", "))
	}
	for _, nd := range members {
		r := ctl(t, nd, debianCmapctl, "-q", "-g", "runtime.members.1.status")
		t.Logf("corosync: node %d after the replay: runtime.members.1.status %s", nd.Index+1, strings.TrimSpace(r.Stdout+r.Stderr))
	}
}

// corosyncRxStatNames are the stats corosyncRxStats sums: what knet
// received on its links from the other nodes, and what Totem SRP received
// and dropped above it.
var corosyncRxStatNames = []string{"knet.rx_total_packets", "knet.rx_data_packets", "srp.memb_join_rx", "srp.mcast_rx", "srp.rx_msg_dropped"}

// corosyncRxStats reads the stats map on nd (corosync's, or the one
// needle's totemd feeds cmapd): the knet link counters summed over every
// link (stats.knet.node<N>.link<L>.<name>) and Totem SRP's
// (stats.srp.<name>), keyed "knet.<name>" and "srp.<name>".
func corosyncRxStats(t testing.TB, nd *harness.Node) map[string]uint64 {
	t.Helper()
	r := ctl(t, nd, debianCmapctl, "-m", "stats")
	m := map[string]uint64{}
	for _, l := range strings.Split(r.Stdout, "\n") {
		k, v, ok := strings.Cut(l, " = ")
		if !ok {
			continue
		}
		k, _, _ = strings.Cut(k, " (")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		f := strings.Split(k, ".")
		switch {
		case len(f) == 5 && f[1] == "knet":
			m["knet."+f[4]] += n
		case len(f) == 3 && f[1] == "srp":
			m["srp."+f[2]] += n
		}
	}
	return m
}

// testReplayNeedle: the needle ring, as the doc comment of
// TestNeedleEncryptedRingRefusesReplays says.
func testReplayNeedle(t *testing.T) {
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000, Extra: "crypto_cipher: aes256\n\tcrypto_hash: sha256"}); err != nil {
		t.Fatal(err)
	}
	key := replayKey()
	for _, nd := range c.Nodes {
		if err := nd.WriteFile("etc/authkey", key, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	outsider, err := c.AddNode() // on the LAN, not in the nodelist
	if err != nil {
		t.Fatal(err)
	}
	members := c.Nodes[:3]

	capt := startCapture(t, members[0].NS)
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	for _, nd := range members {
		procs = append(procs, startTotemd(t, nd))
	}
	waitRing(t, "1 2 3", 20*time.Second, procs...)
	time.Sleep(3 * time.Second) // steady state: tokens, mcasts, merge detects
	pkts := capt.finish()
	if len(pkts) < 50 {
		t.Fatalf("captured only %d Totem packets on node 1", len(pkts))
	}
	sizes := map[int]int{}
	for _, p := range pkts {
		sizes[len(p)-28]++ // UDP payload of an unfragmented packet
	}
	t.Logf("captured %d packets on node 1's LAN interface (UDP payload sizes: %v; %d segmented sends cut into them)", len(pkts), sizes, capt.cut)

	var dsts []netip.Addr
	for _, nd := range members {
		dsts = append(dsts, nd.Addr)
	}
	replayAndCheck(t, "steady ring", procs, outsider, pkts, dsts)

	// Node 3 restarts (kill -9, so no leave): a new epoch, which nodes 1
	// and 2 must take at once, while the capture — node 3's previous life
	// among it — stays refused by all three.
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	waitRing(t, "1 2", 20*time.Second, procs[0], procs[1])
	procs[2] = startTotemd(t, members[2])
	waitRing(t, "1 2 3", 20*time.Second, procs...)
	if b, err := os.ReadFile(filepath.Join(members[2].Dir, "state", "needle-epoch_3")); err != nil || len(b) < 2 {
		t.Errorf("node 3's epoch file: %q, %v", b, err)
	}
	replayAndCheck(t, "after node 3's restart", procs, outsider, pkts, dsts)
}

// replayAndCheck replays the capture for 5 s and checks that no node's
// membership changed, that every node's replay counter rose in its drop
// warnings (with no authentication failures) and that it warned at most
// about once a second.
func replayAndCheck(t *testing.T, phase string, procs []*harness.Proc, outsider *harness.Node, pkts [][]byte, dsts []netip.Addr) {
	t.Helper()
	ring, _, _ := lastMembership(procs[0])
	membsBefore := make([]int, len(procs))
	logAt := make([]int, len(procs))
	for i, p := range procs {
		out := p.Output()
		membsBefore[i] = len(newMembLine.FindAllStringIndex(out, -1))
		logAt[i] = len(out)
	}

	const replayFor = 5 * time.Second
	start := time.Now()
	sent := replayFrom(t, outsider.NS, pkts, dsts, replayFor)
	elapsed := time.Since(start)
	t.Logf("%s: replayed for %v: %v packets per destination", phase, elapsed.Round(time.Millisecond), sent)
	time.Sleep(3 * time.Second) // three token timeouts: time for any re-formation to show

	for i, p := range procs {
		out := p.Output()
		n := len(newMembLine.FindAllStringIndex(out, -1))
		t.Logf("%s: node %d: %d membership changes during the replay", phase, i+1, n-membsBefore[i])
		if n != membsBefore[i] {
			t.Errorf("%s: node %d: %d membership changes during the replay", phase, i+1, n-membsBefore[i])
		}
		if r, m, _ := lastMembership(p); r != ring || m != "1 2 3" {
			t.Errorf("%s: node %d is on ring %s [%s], was %s [1 2 3]", phase, i+1, r, m, ring)
		}
		lines := droppedLine.FindAllStringSubmatch(out[logAt[i]:], -1)
		var counts []uint64
		for _, l := range lines {
			if l[1] != "0" {
				t.Errorf("%s: node %d: authentication failures among the replays: %s", phase, i+1, l[0])
			}
			v, _ := strconv.ParseUint(l[2], 10, 64)
			counts = append(counts, v)
		}
		if len(counts) < 2 || counts[len(counts)-1] <= counts[0] {
			t.Errorf("%s: node %d: replay counter did not rise: %v", phase, i+1, counts)
		}
		if limit := int(elapsed/time.Second) + 2; len(lines) > limit {
			t.Errorf("%s: node %d: %d drop warnings in %v, at most %d allowed", phase, i+1, len(lines), elapsed.Round(time.Millisecond), limit)
		}
		if sample := strings.TrimSpace(out[logAt[i]:]); sample != "" {
			if j := strings.IndexByte(sample, '\n'); j > 0 {
				sample = sample[:j]
			}
			t.Logf("%s: node %d: %d warnings, replay counter %v; first: %s", phase, i+1, len(lines), counts, sample)
		}
	}
}
