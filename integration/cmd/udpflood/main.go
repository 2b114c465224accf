// Command udpflood sends random garbage datagrams to the given addresses for
// a bounded time; integration tests use it to check that junk at the Totem
// port changes nothing. It sends only where it is told, and stops by itself.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

func main() {
	dur := flag.Duration("for", 3*time.Second, "how long to send")
	max := flag.Int("max", 200000, "most datagrams to send")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	var dsts []*net.UDPAddr
	for _, a := range flag.Args() {
		d, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "udpflood:", err)
			os.Exit(2)
		}
		dsts = append(dsts, d)
	}
	if len(dsts) == 0 {
		fmt.Fprintln(os.Stderr, "udpflood: no destination")
		os.Exit(2)
	}
	c, err := net.ListenUDP("udp", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpflood:", err)
		os.Exit(1)
	}
	r := rand.New(rand.NewPCG(*seed, 0))
	buf := make([]byte, 1500)
	end := time.Now().Add(*dur)
	sent := 0
	for sent < *max && time.Now().Before(end) {
		n := r.IntN(len(buf))
		for i := range buf[:n] {
			buf[i] = byte(r.Uint32())
		}
		// Some datagrams start like a Totem W3 header so they get past
		// the magic check and exercise the per-type decoders.
		if n >= 4 && r.IntN(2) == 0 {
			buf[0], buf[1], buf[2], buf[3] = 0x70, 0xc0, 3, byte(r.IntN(6))
		}
		if _, err := c.WriteToUDP(buf[:n], dsts[sent%len(dsts)]); err == nil {
			sent++
		}
		if sent%64 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Println("sent", sent)
}
