// Command quorumwatch is a quorum-API client for benchmarks: it connects
// to the quorum service (libquorum's model V0, so it works against quorumd
// and a real corosync 3.1.7 alike), tracks changes and prints one JSON line
// per notification with the wall-clock time it arrived. Integration
// benchmarks run it inside a node's namespaces and read its output.
package main

import (
	"context"
	"encoding/json"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
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
