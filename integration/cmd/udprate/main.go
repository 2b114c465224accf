// Command udprate measures raw UDP between two network namespaces, the
// ceiling the ring benchmarks compare themselves with: run with -recv on
// one node and -send on another. The receiver counts datagrams and bytes
// until no datagram came for a second after the first one, then prints one
// JSON line; the sender sends datagrams of -size bytes for -for, flat out.
// It sends only where it is told and stops by itself.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	recv := flag.String("recv", "", "receive on this `ADDR` (host:port)")
	send := flag.String("send", "", "send to this `ADDR` (host:port)")
	size := flag.Int("size", 1472, "datagram payload `BYTES` (1472: a 1500-byte MTU)")
	dur := flag.Duration("for", 3*time.Second, "how long to send")
	wait := flag.Duration("wait", 30*time.Second, "how long the receiver waits for the first datagram")
	flag.Parse()
	var err error
	switch {
	case *recv != "" && *send == "":
		err = receive(*recv, *wait)
	case *send != "" && *recv == "":
		err = transmit(*send, *size, *dur)
	default:
		err = errors.New("want exactly one of -recv and -send")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "udprate:", err)
		os.Exit(1)
	}
}

func receive(addr string, wait time.Duration) error {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadBuffer(8 << 20)
	buf := make([]byte, 65536)
	var first, last time.Time
	var n, bytes int64
	deadline := time.Now().Add(wait)
	for {
		_ = c.SetReadDeadline(deadline)
		k, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return err
		}
		last = time.Now()
		if n == 0 {
			first = last
		}
		n++
		bytes += int64(k)
		deadline = last.Add(time.Second)
	}
	if n < 2 {
		return fmt.Errorf("received %d datagrams", n)
	}
	secs := last.Sub(first).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"tool": "udprate", "datagrams": n, "bytes": bytes,
		"secs": secs, "mb_per_s": float64(bytes) / secs / 1e6, "datagrams_per_s": float64(n) / secs})
}

func transmit(addr string, size int, dur time.Duration) error {
	if size < 1 || size > 65507 {
		return fmt.Errorf("-size %d: want 1..65507", size)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, size)
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		// A full socket buffer or a receiver that fell behind (ECONNREFUSED
		// from an ICMP of a dropped datagram) is not an error here: this
		// measures what gets through.
		_, _ = c.Write(buf)
	}
	return nil
}
