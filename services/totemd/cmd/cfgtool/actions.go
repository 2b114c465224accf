package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/client"
)

// Each *Do mirrors the function of the same name in corosync-cfgtool.c:
// same calls, same messages on the same streams, same exit statuses.

func dialCfg(ctx context.Context, stderr io.Writer, numeric bool) (*client.Client, bool) {
	c, err := client.Dial(ctx)
	if err != nil {
		if numeric {
			fmt.Fprintf(stderr, "Could not initialize corosync configuration API error %d\n", client.Code(err))
		} else {
			fmt.Fprintf(stderr, "Could not initialize corosync configuration API error %s\n", client.Code(err).Strerror())
		}
		return nil, false
	}
	return c, true
}

func reloadDo(ctx context.Context, stdout, stderr io.Writer) int {
	fmt.Fprint(stdout, "Reloading corosync.conf...\n")
	c, ok := dialCfg(ctx, stderr, false)
	if !ok {
		return 1
	}
	defer c.Close()
	if err := c.ReloadConfig(ctx); err != nil {
		fmt.Fprintf(stderr, "Could not reload configuration. Error %s\n", client.Code(err).Strerror())
		return int(client.Code(err))
	}
	fmt.Fprint(stdout, "Done\n")
	return 0
}

func reopenDo(ctx context.Context, stderr io.Writer) int {
	c, ok := dialCfg(ctx, stderr, false)
	if !ok {
		return 1
	}
	defer c.Close()
	if err := c.ReopenLogFiles(ctx); err != nil {
		fmt.Fprintf(stderr, "Could not reopen corosync logging files. Error %s\n", client.Code(err).Strerror())
		return int(client.Code(err))
	}
	return 0
}

// shutdownDo always exits 0, as the C tool does.
func shutdownDo(ctx context.Context, force bool, stdout, stderr io.Writer) int {
	flags := cfg.ShutdownRequest
	if force {
		flags = cfg.ShutdownRegardless
	}
	c, ok := dialCfg(ctx, stderr, true)
	if !ok {
		return 1
	}
	defer c.Close()
	fmt.Fprint(stdout, "Shutting down corosync\n")
	var err error
	for try := 0; try < 30; try++ {
		if err = c.TryShutdown(ctx, flags); client.Code(err) != cs.ErrTryAgain {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "Could not shutdown (error = %d)\n", client.Code(err))
	}
	return 0
}

func showAddrDo(ctx context.Context, nodeid uint32, stdout, stderr io.Writer) int {
	c, ok := dialCfg(ctx, stderr, true)
	if !ok {
		return 1
	}
	defer c.Close()
	addrs, err := c.NodeAddrs(ctx, nodeid)
	if err != nil {
		fmt.Fprintf(stderr, "Could not get node address for nodeid %d\n", int32(nodeid))
		return 1
	}
	const interfaceMax = 8 // the tool's address array
	for i, a := range addrs[:min(len(addrs), interfaceMax)] {
		if !a.IsValid() {
			continue // an all-zero slot; the separator still counts it
		}
		if i != 0 {
			fmt.Fprint(stdout, " ")
		}
		fmt.Fprint(stdout, a.String())
	}
	fmt.Fprint(stdout, "\n")
	return 0
}

func killDo(ctx context.Context, nodeid uint32, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "Killing node %d\n", nodeid)
	c, ok := dialCfg(ctx, stderr, true)
	if !ok {
		return 1
	}
	defer c.Close()
	if err := c.KillNode(ctx, nodeid, "Killed by corosync-cfgtool"); err != nil {
		fmt.Fprintf(stderr, "Could not kill node (error = %s)\n", client.Code(err).Strerror())
		return 1
	}
	return 0
}
