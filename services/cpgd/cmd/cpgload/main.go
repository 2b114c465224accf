// Command cpgload is needle's CPG load generator and checker. It speaks
// the libqb cpg protocol through services/cpgd/client, so one binary
// measures cpgd and a real corosync alike.
//
// Every instance joins a group and waits until the group has --members
// members; then it multicasts its numbered, timestamped messages (--size
// bytes; --count messages or for --duration; paced at --rate per second
// or flat out, retrying on CS_ERR_TRY_AGAIN while its dispatcher keeps
// reading), and finally an END message with its count. Every instance
// (senders and receive-only ones with --count 0) checks what it delivers
// until every member that was there at the start sent END or left: no
// loss, no duplicate, per-sender FIFO, and hashes the delivery order of
// all data messages (equal hashes on every node = one total order). It
// prints one JSON line (see result) and exits 1 when any check failed or
// the run timed out.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cpgd/client"
	"github.com/needle-cluster/needle/services/cpgd/wire"
	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "cpgload",
		Usage: "multicast numbered messages through a CPG group and check delivery on every member",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "cpgload", Usage: "group name"},
			&cli.IntFlag{Name: "members", Aliases: []string{"n"}, Value: 1, Usage: "wait for this many group members before sending"},
			&cli.IntFlag{Name: "size", Aliases: []string{"s"}, Value: 1024, Usage: "message size in bytes (at least 32)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Value: 1000, Usage: "messages to send (0: receive only)"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Usage: "send for this long instead of --count"},
			&cli.Float64Flag{Name: "rate", Aliases: []string{"r"}, Usage: "messages per second (0: flat out)"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "give up after this long"},
		},
		Action: func(c *cli.Context) error {
			cfg := config{group: c.String("group"), members: c.Int("members"), size: c.Int("size"), count: c.Int("count"),
				duration: c.Duration("duration"), rate: c.Float64("rate"), timeout: c.Duration("timeout")}
			return runLoad(cfg, os.Stdout)
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "cpgload:", err)
		os.Exit(1)
	}
}

type config struct {
	group    string
	members  int
	size     int
	count    int
	duration time.Duration
	rate     float64
	timeout  time.Duration
	pid      uint32 // 0: getpid(); tests run several instances in one process
}

// result is the JSON line cpgload prints.
type result struct {
	Tool     string  `json:"tool"`
	Node     uint32  `json:"node"`
	PID      uint32  `json:"pid"`
	Group    string  `json:"group"`
	Members  int     `json:"members"`
	Size     int     `json:"size_bytes"`
	Rate     float64 `json:"rate"`
	Sent     uint64  `json:"sent"`
	Senders  int     `json:"senders"`
	Received uint64  `json:"received"`
	Lost     uint64  `json:"lost"`
	// LostDetail names each sender with a loss and the seqs it lost.
	LostDetail []string `json:"lost_detail,omitempty"`
	Duplicates uint64   `json:"duplicates"`
	FIFO       uint64   `json:"fifo_violations"`
	BadPayload uint64   `json:"bad_payloads"`
	Departed   int      `json:"departed"`
	OrderHash  string   `json:"order_hash"`
	ElapsedS   float64  `json:"elapsed_s"`
	MsgsPerS   float64  `json:"msgs_per_s"`
	MBPerS     float64  `json:"mb_per_s"`
	P50us      float64  `json:"latency_p50_us"`
	P99us      float64  `json:"latency_p99_us"`
	MaxUs      float64  `json:"latency_max_us"`
	TryAgain   uint64   `json:"try_again"`
	Complete   bool     `json:"complete"`
	OK         bool     `json:"ok"`
}

// run state shared between the sender (main goroutine) and the dispatcher.
type load struct {
	cfg     config
	c       *client.Client
	chk     *checker
	start   time.Time
	started chan struct{} // closed when the group reached cfg.members
	done    chan struct{} // closed when every member ended or left
	failed  chan error
}

func runLoad(cfg config, out io.Writer) error {
	if cfg.size < msgHeader {
		return fmt.Errorf("--size %d: at least %d bytes", cfg.size, msgHeader)
	}
	if len(cfg.group) > wire.NameMax {
		return fmt.Errorf("--group: %d bytes, at most %d", len(cfg.group), wire.NameMax)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	c, err := dial(ctx, cfg.pid)
	if err != nil {
		return err
	}
	defer c.Close()
	node, err := c.LocalGet(ctx)
	if err != nil {
		return fmt.Errorf("local_get: %w", err)
	}
	l := &load{cfg: cfg, c: c, chk: newChecker(), started: make(chan struct{}), done: make(chan struct{}), failed: make(chan error, 1)}
	go l.dispatch(ctx)
	if err := retry(ctx, func() error { return c.Join(ctx, cfg.group) }); err != nil {
		return fmt.Errorf("join %q: %w", cfg.group, err)
	}
	select {
	case <-l.started:
	case err := <-l.failed:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d members of %q: %w", cfg.members, cfg.group, ctx.Err())
	}
	sent, tryAgain, err := l.send(ctx)
	if err != nil {
		return err
	}
	complete := true
	select {
	case <-l.done:
	case err := <-l.failed:
		return err
	case <-ctx.Done():
		complete = false
	}
	cancel() // stops the dispatcher; its state is ours from here
	<-l.failed
	r := l.result(node, sent, tryAgain, complete)
	line, _ := json.Marshal(r)
	fmt.Fprintln(out, string(line))
	c.Finalize(context.Background())
	if !r.OK {
		return errors.New("check failed or incomplete (see the JSON line)")
	}
	return nil
}

// dial connects, retrying while the daemon is not there yet or busy.
func dial(ctx context.Context, pid uint32) (*client.Client, error) {
	for {
		c, err := client.Dial(ctx, client.Options{PID: pid})
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to cpg: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retry repeats f while it answers CS_ERR_TRY_AGAIN (sync in progress).
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if client.Code(err) != cs.ErrTryAgain {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dispatch reads events until ctx ends, feeding the checker. It reports
// its end on l.failed (nil after ctx ended).
func (l *load) dispatch(ctx context.Context) {
	var err error
	defer func() { l.failed <- err }()
	started, finished := false, false
	for {
		var ev wire.Event
		ev, err = l.c.ReadEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = nil
			}
			return
		}
		now := time.Now()
		switch e := ev.(type) {
		case wire.ConfChg:
			if e.Group != l.cfg.group {
				continue
			}
			for _, a := range e.Left {
				l.chk.left(senderID{a.NodeID, a.PID})
			}
			if !started && len(e.Members) >= l.cfg.members {
				for _, m := range e.Members {
					l.chk.expect(senderID{m.NodeID, m.PID})
				}
				started = true
				l.start = now
				close(l.started)
			}
		case wire.Deliver:
			if started && e.Group == l.cfg.group {
				l.chk.deliver(senderID{e.NodeID, e.PID}, e.Msg, now)
			}
		}
		if started && !finished && l.chk.done() {
			finished = true
			close(l.done)
		}
	}
}

// send multicasts the data messages and the END message. TRY_AGAIN is
// retried after a short pause (the dispatcher keeps reading meanwhile).
func (l *load) send(ctx context.Context) (sent, tryAgain uint64, err error) {
	buf := make([]byte, l.cfg.size)
	for i := msgHeader; i < len(buf); i++ {
		buf[i] = byte(i)
	}
	begin := time.Now()
	mcast := func(m loadMsg) error {
		for {
			if m.kind == kindData {
				m.sent = time.Now().UnixNano()
			}
			m.put(buf)
			err := l.c.Mcast(ctx, client.TypeAgreed, buf)
			if client.Code(err) != cs.ErrTryAgain {
				return err
			}
			tryAgain++
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Microsecond):
			}
		}
	}
	for {
		if l.cfg.duration > 0 {
			if time.Since(begin) >= l.cfg.duration {
				break
			}
		} else if sent >= uint64(l.cfg.count) {
			break
		}
		if l.cfg.rate > 0 {
			at := begin.Add(time.Duration(float64(sent) / l.cfg.rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
		}
		if err := mcast(loadMsg{kind: kindData, seq: sent}); err != nil {
			return sent, tryAgain, fmt.Errorf("mcast %d: %w", sent, err)
		}
		sent++
	}
	if err := mcast(loadMsg{kind: kindEnd, end: sent}); err != nil {
		return sent, tryAgain, fmt.Errorf("mcast END: %w", err)
	}
	return sent, tryAgain, nil
}

func (l *load) result(node uint32, sent, tryAgain uint64, complete bool) result {
	c := l.chk
	r := result{Tool: "cpgload", Node: node, PID: l.c.PID(), Group: l.cfg.group, Members: l.cfg.members, Size: l.cfg.size,
		Rate: l.cfg.rate, Sent: sent, Received: c.received, Lost: c.lost(), LostDetail: c.lostDetail(), Duplicates: c.dups, FIFO: c.fifo,
		BadPayload: c.badPayload, OrderHash: c.orderHash(), TryAgain: tryAgain, Complete: complete}
	for _, st := range c.senders {
		if st.end > 0 || st.maxSeen >= 0 {
			r.Senders++
		}
		if st.departed {
			r.Departed++
		}
	}
	if !c.last.IsZero() {
		el := c.last.Sub(l.start).Seconds()
		r.ElapsedS = el
		if el > 0 {
			r.MsgsPerS = float64(c.received) / el
			r.MBPerS = float64(c.bytes) / el / 1e6
		}
	}
	p50, p99, mx := c.percentiles()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	r.P50us, r.P99us, r.MaxUs = us(p50), us(p99), us(mx)
	r.OK = complete && r.Lost == 0 && r.Duplicates == 0 && r.FIFO == 0 && r.BadPayload == 0
	return r
}
