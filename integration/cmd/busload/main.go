// Command busload is the integration tests' traffic client: it attaches to
// totemd's bus as a service, multicasts a numbered stream of messages, and
// writes every message it receives, in delivery order, to a file, so a
// test can check that all nodes delivered the same messages in the same
// order and that none was lost.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// service is an id no needle daemon and no corosync 3.1.7 service uses
// (corosync's are 0-7; a corosync node drops a message for one it does not
// run, and its table has 64 entries). Not pload's 4: totemd serves pload
// itself and refuses a daemon that attaches as it.
const service = 32

func main() {
	bus := flag.String("bus", "/run/needle/bus.sock", "totemd bus socket")
	out := flag.String("out", "delivered.txt", "file receiving one line per delivered message")
	count := flag.Int("count", 1000, "messages to send")
	size := flag.Int("size", 64, "payload bytes per message (≥ 8)")
	node := flag.Uint("node", 0, "this node's id, written into each message")
	rate := flag.Duration("every", time.Millisecond, "pause between sends; 0 sends as fast as the window allows")
	window := flag.Int("window", 1, "multicasts in flight at most (with -every 0)")
	start := flag.Int64("start", 0, "unix time in nanoseconds at which to start sending (so every node's client is attached first)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *bus, *out, *count, *size, *window, uint32(*node), *rate, time.Unix(0, *start)); err != nil {
		fmt.Fprintln(os.Stderr, "busload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bus, out string, count, size, window int, node uint32, every time.Duration, start time.Time) error {
	if size < 8 {
		size = 8
	}
	if window < 1 || every > 0 {
		window = 1
	}
	var c *ipcproto.Conn
	var err error
	for i := 0; ; i++ {
		if c, err = ipcproto.Dial(ctx, bus); err == nil {
			break
		}
		if i == 100 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.Close()
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: service, Name: "busload"}); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()

	msgs := make(chan *ipcproto.Msg, 1024)
	errs := make(chan error, 1)
	go func() {
		for {
			m, err := c.Recv()
			if err != nil {
				errs <- err
				return
			}
			msgs <- m
		}
	}()
	// Up to window multicasts in flight; after a TryAgain the window
	// resends from the refused message on (ipcproto's contract).
	win := ipcproto.Window{Size: window, Total: count}
	fast := every <= 0
	if fast {
		every = time.Millisecond
	}
	// fill sends what the window allows with one write (SendBatch).
	var batch []*ipcproto.Msg
	fill := func(limit int) error {
		batch = batch[:0]
		for n := 0; n < limit && !time.Now().Before(start); n++ {
			seq, ok := win.Next()
			if !ok {
				break
			}
			batch = append(batch, mcast(win.ID(seq), seq, node, size))
		}
		if len(batch) == 0 {
			return nil
		}
		return c.SendBatch(batch)
	}
	handle := func(m *ipcproto.Msg) (rewound, ack bool, err error) {
		switch m.Kind {
		case ipcproto.KindMcastAck:
			rewound, err = win.Ack(m)
			return rewound, true, err
		case ipcproto.KindDeliver, ipcproto.KindDeliverBatch:
			for _, d := range m.Deliveries() {
				if len(d.Payload) >= 24 {
					fmt.Fprintf(w, "%d %d\n", binary.LittleEndian.Uint32(d.Payload[16:]), binary.LittleEndian.Uint32(d.Payload[20:]))
				}
			}
		case ipcproto.KindConfChg:
			if m.Conf.Type == ipcproto.Regular {
				fmt.Fprintf(w, "conf %s %v\n", m.Conf.Ring, m.Conf.Members)
			}
		case ipcproto.KindSyncProcess:
			// No sync messages: done at once. totemd refuses the stream
			// (TryAgain) until the round's activation (ipcproto's doc).
			return false, false, c.Send(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: m.ID, Ring: m.Ring})
		case ipcproto.KindError:
			return false, false, fmt.Errorf("totemd: %s", m.Text)
		}
		return false, false, nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-flush.C:
			if err := w.Flush(); err != nil {
				return err
			}
		case err := <-errs:
			return fmt.Errorf("bus: %w", err)
		case <-tick.C:
			n := 1
			if fast {
				n = window
			}
			if err := fill(n); err != nil {
				return err
			}
		case m := <-msgs:
			// Take every message already here, then top the window up
			// once: acks that came together make one write.
			acked, paused := false, false
			for {
				rewound, isAck, err := handle(m)
				if err != nil {
					return err
				}
				acked = acked || isAck
				paused = paused || rewound
				if len(msgs) == 0 {
					break
				}
				m = <-msgs
			}
			if fast && acked && !paused { // after a refusal, resume on the next tick
				if err := fill(window); err != nil {
					return err
				}
			}
		}
	}
}

// mcast is message number seq under bus ID id: a pload exec header, the
// sender's node id and the number, padded to size.
func mcast(id uint64, seq int, node uint32, size int) *ipcproto.Msg {
	body := make([]byte, 16+size)
	binary.LittleEndian.PutUint32(body[0:], service<<16|1)
	binary.LittleEndian.PutUint32(body[8:], uint32(len(body)))
	binary.LittleEndian.PutUint32(body[16:], node)
	binary.LittleEndian.PutUint32(body[20:], uint32(seq))
	return &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: id, Payload: body}
}
