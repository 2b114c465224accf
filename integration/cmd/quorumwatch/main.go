// Command quorumwatch is a quorum-API client for benchmarks: it connects
// to the quorum service (libquorum's model V0, so it works against quorumd
// and a real corosync 3.1.7 alike), tracks changes and prints one JSON line
// per notification with the wall-clock time it arrived. Integration
// benchmarks run it inside a node's namespaces and read its output.
//
// With -probe quorum or -probe votequorum it instead opens that one
// endpoint, asks one question, prints the answer and exits (1 on error):
// the access tests use it because corosync-quorumtool opens cmap first
// and so never reaches the quorum endpoints of a refused user.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/quorumd/client"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// event is one output line. Ready (first line) says tracking started.
type event struct {
	UnixNs  int64    `json:"unix_ns"`
	Ready   bool     `json:"ready,omitempty"`
	Quorate *bool    `json:"quorate,omitempty"`
	RingSeq uint64   `json:"ring_seq,omitempty"`
	View    []uint32 `json:"view,omitempty"`
}

func main() {
	probeSvc := flag.String("probe", "", "open this endpoint (quorum or votequorum), ask once, print the answer and exit")
	probeNode := flag.Uint("nodeid", 1, "the node -probe votequorum asks about")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *probeSvc != "" {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := probe(pctx, *probeSvc, uint32(*probeNode)); err != nil {
			fmt.Fprintf(os.Stderr, "quorumwatch: %s: %v\n", *probeSvc, err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "quorumwatch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var q *client.Quorum
	for {
		// corosync and quorumd refuse clients with TRY_AGAIN until their
		// first sync completed: retry as libquorum users do.
		var err error
		q, err = client.DialQuorum(ctx, wire.ModelV0)
		if err == nil {
			break
		}
		if client.Code(err) != cs.ErrTryAgain || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer q.Close()
	if err := q.TrackStart(ctx, wire.TrackCurrent|wire.TrackChanges); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(event{UnixNs: time.Now().UnixNano(), Ready: true}); err != nil {
		return err
	}
	for {
		ev, err := q.ReadEvent(ctx)
		now := time.Now().UnixNano()
		if err != nil {
			return err
		}
		n, ok := ev.(wire.QNotification)
		if !ok {
			continue
		}
		quorate := n.Quorate != 0
		if err := enc.Encode(event{UnixNs: now, Quorate: &quorate, RingSeq: n.RingSeq, View: n.View}); err != nil {
			return err
		}
	}
}

// probe opens one endpoint as the calling user and asks it one question.
func probe(ctx context.Context, svc string, nodeid uint32) error {
	switch svc {
	case "quorum":
		q, err := client.DialQuorum(ctx, wire.ModelV0)
		if err != nil {
			return err
		}
		defer q.Close()
		quorate, err := q.GetQuorate(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("quorum API: quorate=%v\n", quorate)
	case "votequorum":
		v, err := client.DialVotequorum(ctx)
		if err != nil {
			return err
		}
		defer v.Close()
		info, err := v.GetInfo(ctx, nodeid)
		if err != nil {
			return err
		}
		fmt.Printf("votequorum API: node %d votes=%d expected=%d\n", info.NodeID, info.Votes, info.Expected)
	default:
		return fmt.Errorf("unknown endpoint %q (quorum or votequorum)", svc)
	}
	return nil
}
