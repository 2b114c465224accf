// Command pload starts a pload run on the local node's cluster and prints
// its result: it writes pload.count, pload.size and pload.start through
// cmap (what corosync's test/ploadstart.sh did) and waits for totemd's
// runtime.pload.* result. Every node of the ring runs; against a real
// corosync node the run happens too, but corosync exits when it ends and
// its result is only in its log.
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
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/client"
	"github.com/urfave/cli/v2"
)

// The keys totemd's pload service reads and writes (services/totemd/internal/pload).
const (
	magic      = "i_totally_understand_pload_will_crash_my_cluster_and_kill_corosync_on_exit"
	keyRun     = "runtime.pload.run"
	keyWrites  = "runtime.pload.writes"
	keySize    = "runtime.pload.size"
	keyElapsed = "runtime.pload.elapsed_ns"
	keyTPS     = "runtime.pload.tps"
	keyMBps    = "runtime.pload.mbps"
	keyLine    = "runtime.pload.result"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// Result is the --json output (one object).
type Result struct {
	Writes    uint64  `json:"writes"`
	Size      uint64  `json:"size_bytes"`
	ElapsedS  float64 `json:"runtime_s"`
	TPS       float64 `json:"tp_per_s"`
	MBps      float64 `json:"mb_per_s"`
	Line      string  `json:"line"`
	RunNumber uint64  `json:"run"`
}

// newApp is pload's command line; the man page is generated from it.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "pload",
		Usage:     "start a pload run (corosync's ring load test) on the cluster and print its result",
		UsageText: "pload [-c COUNT] [-s SIZE] [--json] [--timeout DURATION]",
		Writer:    stdout, ErrWriter: stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "c", Aliases: []string{"count"}, Value: 1500000, Usage: "messages each node sends (pload.count)"},
			&cli.UintFlag{Name: "s", Aliases: []string{"size"}, Value: 300, Usage: "bytes per message (pload.size, at most 1 MiB)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up waiting for the result after `DURATION`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("pload: unexpected argument %q", c.Args().First()), 1)
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			r, err := start(ctx, uint32(c.Uint("c")), uint32(c.Uint("s")))
			if err != nil {
				return cli.Exit("pload: "+err.Error(), 1)
			}
			if c.Bool("json") {
				b, _ := json.Marshal(r)
				fmt.Fprintln(stdout, string(b))
			} else {
				fmt.Fprintln(stdout, r.Line)
			}
			return nil
		},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).Run(args)
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "pload:", err)
	return 1
}

// start writes the pload keys and waits for the run number to change.
func start(ctx context.Context, count, size uint32) (Result, error) {
	if count == 0 {
		return Result{}, errors.New("count must be at least 1")
	}
	c, err := client.Dial(ctx, client.MapDefault)
	if err != nil {
		return Result{}, fmt.Errorf("connect to cmap: %w", err)
	}
	defer c.Close()
	prev := getU(ctx, c, keyRun)
	if err := c.Set(ctx, "pload.count", value.U32(count)); err != nil {
		return Result{}, fmt.Errorf("set pload.count: %w", err)
	}
	if err := c.Set(ctx, "pload.size", value.U32(size)); err != nil {
		return Result{}, fmt.Errorf("set pload.size: %w", err)
	}
	if err := c.Delete(ctx, "pload.start"); err != nil && client.Code(err) != cs.ErrNotExist {
		return Result{}, fmt.Errorf("reset pload.start: %w", err)
	}
	if err := c.SetString(ctx, "pload.start", magic); err != nil {
		return Result{}, fmt.Errorf("set pload.start: %w", err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("no result within the timeout (are totemd and cmapd running on every node?): %w", ctx.Err())
		case <-tick.C:
		}
		v, err := c.Get(ctx, keyRun)
		if err != nil && client.Code(err) != cs.ErrNotExist {
			return Result{}, fmt.Errorf("read %s (a corosync node exits when its run ends): %w", keyRun, err)
		}
		if run, ok := v.AsUint(); err == nil && ok && run != prev {
			return read(ctx, c, run)
		}
	}
}

func getU(ctx context.Context, c *client.Client, key string) uint64 {
	v, err := c.Get(ctx, key)
	if err != nil {
		return 0
	}
	n, _ := v.AsUint()
	return n
}

func read(ctx context.Context, c *client.Client, run uint64) (Result, error) {
	r := Result{RunNumber: run, Writes: getU(ctx, c, keyWrites), Size: getU(ctx, c, keySize)}
	r.ElapsedS = float64(getU(ctx, c, keyElapsed)) / 1e9
	for k, dst := range map[string]*float64{keyTPS: &r.TPS, keyMBps: &r.MBps} {
		if v, err := c.Get(ctx, k); err == nil {
			*dst, _ = v.AsFloat()
		}
	}
	v, err := c.Get(ctx, keyLine)
	if err != nil {
		return r, fmt.Errorf("read %s: %w", keyLine, err)
	}
	r.Line, _ = v.AsString()
	return r, nil
}
