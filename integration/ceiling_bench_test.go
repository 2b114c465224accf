package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// udprateBin is the raw-UDP tool (cmd/udprate), built once.
var udprateBin struct {
	once sync.Once
	path string
	err  error
}

// rawUDP measures raw UDP from node 1 to node 2 of c (datagrams of size
// bytes, 3 s flat out from one sender), the ceiling of the ring: MB/s
// received.
func rawUDP(b *testing.B, c *harness.Cluster, size int) float64 {
	udprateBin.once.Do(func() {
		udprateBin.path = filepath.Join(bins.dir, "udprate")
		if out, err := exec.Command("go", "build", "-o", udprateBin.path, "./cmd/udprate").CombinedOutput(); err != nil {
			udprateBin.err = fmt.Errorf("go build udprate: %v: %s", err, out)
		}
	})
	if udprateBin.err != nil {
		b.Fatal(udprateBin.err)
	}
	addr := fmt.Sprintf("%s:5599", c.Nodes[1].Addr)
	rx, err := c.Nodes[1].Start("udprate-rx", udprateBin.path, "-recv", addr)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	tx, err := c.Nodes[0].Start("udprate-tx", udprateBin.path, "-send", addr, "-for", "3s", "-size", fmt.Sprint(size))
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.Wait(30 * time.Second); err != nil {
		b.Fatalf("udprate sender: %v: %s", err, tx.Output())
	}
	if err := rx.Wait(30 * time.Second); err != nil {
		b.Fatalf("udprate receiver: %v: %s", err, rx.Output())
	}
	var r struct {
		MBPerS float64 `json:"mb_per_s"`
	}
	out := strings.TrimSpace(rx.Output())
	if err := json.Unmarshal([]byte(out[strings.LastIndexByte(out, '\n')+1:]), &r); err != nil {
		b.Fatalf("udprate output %q: %v", out, err)
	}
	return r.MBPerS
}

// BenchmarkRingCeiling puts the ring beside what is around it (issue 12):
// raw UDP between the same namespaces (datagrams of a 1500-byte MTU, as
// Totem sends, and of 64,000 bytes, fragmented by IP), the 64 KiB
// one-sender CPG rate of needle and of corosync 3.1.7 as a share of the
// first, and needle's CPG rates
// with aes256 + sha256 as a share of its rates without (one sender, 1 KiB
// and 64 KiB; same cluster shape, same run). One JSON line per figure.
func BenchmarkRingCeiling(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if !harness.HaveCorosync() {
		b.Skip("corosync not installed")
	}
	buildCpgBins(b)
	if !haveCpgd(b) {
		b.Fatal(cpgdBin.err)
	}
	key := make([]byte, 256)
	for i := range key {
		key[i] = byte(i*13 + 1)
	}
	crypto := harness.ConfOptions{Extra: "crypto_cipher: aes256\n\tcrypto_hash: sha256", Authkey: key}
	rate := func(c *harness.Cluster, size, total int) float64 {
		return oneSenderRate(b, c, fmt.Sprintf("ceiling%d", size), size, total)
	}
	for i := 0; i < b.N; i++ {
		c, procs := corosyncCluster(b, 3, harness.ConfOptions{})
		raw, rawBig := rawUDP(b, c, 1472), rawUDP(b, c, 64000)
		coro64 := rate(c, 65536, 900)
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
		plain := needleCpgCluster(b, 3, harness.ConfOptions{})
		ndl1, ndl64 := rate(plain.c, 1024, 15000), rate(plain.c, 65536, 900)
		plain.stopAll()
		enc := needleCpgCluster(b, 3, crypto)
		enc1, enc64 := rate(enc.c, 1024, 15000), rate(enc.c, 65536, 900)
		enc.stopAll()
		emit(b, map[string]any{"bench": "raw_udp", "datagram_bytes": 1472, "mb_per_s": raw})
		emit(b, map[string]any{"bench": "raw_udp", "datagram_bytes": 64000, "mb_per_s": rawBig})
		emit(b, map[string]any{"bench": "cpg_64KiB_share_of_raw_udp", "needle_mb_per_s": ndl64, "corosync_mb_per_s": coro64,
			"needle_share": ndl64 / raw, "corosync_share": coro64 / raw})
		emit(b, map[string]any{"bench": "cpg_crypto_share", "cipher": "aes256", "hash": "sha256",
			"plain_1KiB_mb_per_s": ndl1, "crypto_1KiB_mb_per_s": enc1, "share_1KiB": enc1 / ndl1,
			"plain_64KiB_mb_per_s": ndl64, "crypto_64KiB_mb_per_s": enc64, "share_64KiB": enc64 / ndl64})
	}
}

// oneSenderRate runs cpgload with total messages of size bytes sent by
// node 1 of a 3-node cluster, checks one order and no loss on every node,
// and returns the slowest node's delivery rate (MB/s).
func oneSenderRate(b *testing.B, c *harness.Cluster, group string, size, total int) float64 {
	rs := runCpgload(b, c, group, size, []int{total, 0, 0})
	checkOneOrder(b, rs, uint64(total))
	worst := rs[0].MBPerS
	for _, r := range rs {
		worst = min(worst, r.MBPerS)
	}
	return worst
}

// stopAll stops every daemon of the cluster, cpgd first.
func (n *needleCpg) stopAll() {
	for _, ps := range [][]*harness.Proc{n.cpgd, n.cmapd, n.totemd} {
		for _, p := range ps {
			if p != nil {
				p.StopWith(syscall.SIGINT, 10*time.Second)
			}
		}
	}
}
