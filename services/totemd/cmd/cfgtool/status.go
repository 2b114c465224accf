package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/totemd/cmd/cfgtool/internal/cmapread"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/client"
)

// statusDo is -s (link view, -b for brief) and -n (node view). With
// asJSON the text goes nowhere and the same facts are printed as one JSON
// object at the end (errors, messages and exit codes unchanged).
func statusDo(ctx context.Context, act action, brief, asJSON bool, stdout, stderr io.Writer) int {
	if !asJSON {
		return status(ctx, act, brief, nil, stdout, stderr)
	}
	js := &statusJSON{}
	code := status(ctx, act, brief, js, io.Discard, stderr)
	if code == 0 {
		return js.write(stdout, stderr)
	}
	return code
}

// status prints the text view to stdout and, when js is not nil, records
// the same facts in js.
func status(ctx context.Context, act action, brief bool, js *statusJSON, stdout, stderr io.Writer) int {
	c, ok := dialCfg(ctx, stderr, true)
	if !ok {
		return 1
	}
	defer c.Close()
	cm, err := cmapread.Dial(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "Could not initialize corosync cmap API error %d\n", client.CSErrorOf(err))
		return 1
	}
	defer cm.Close()

	transport, knet := "knet", true // corosync's default transport
	if t, err := cm.GetString(ctx, "totem.transport"); err == nil {
		transport, knet = t, t != "udpu" && t != "udp"
	}
	local, err := c.LocalNodeID(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "Could not get the local node id, the error is: %d\n", client.Code(err))
		return 1
	}
	keys, err := cm.Keys(ctx, "nodelist.node.")
	if err != nil {
		fmt.Fprintf(stderr, "Could not get nodelist from cmap. error %d\n", cmapCode(err))
		return 1
	}
	var nodes []uint32
	for _, k := range keys {
		if !isNodeIDKey(k) {
			continue
		}
		if id, err := cm.GetUint32(ctx, k); err == nil {
			nodes = append(nodes, id)
		}
	}
	if len(nodes) == 0 {
		fmt.Fprint(stderr, "No nodes found in nodelist\n")
		return 1
	}
	slices.Sort(nodes)
	localIdx, otherIdx := 0, 0
	for i, id := range nodes {
		if id == local {
			localIdx = i
		} else {
			otherIdx = i // the link list of any other node shows the cluster's links
		}
	}
	var linkTransport [cfg.MaxLinks]string
	if knet {
		for i := range linkTransport {
			linkTransport[i] = "udp"
		}
	}
	if keys, err := cm.Keys(ctx, "totem.interface."); err == nil {
		for _, k := range keys {
			link, ok := interfaceLink(k)
			if !ok || link >= cfg.MaxLinks {
				continue
			}
			if t, err := cm.GetString(ctx, fmt.Sprintf("totem.interface.%d.knet_transport", link)); err == nil {
				linkTransport[link] = t
			}
		}
	}
	cm.Close()

	fmt.Fprintf(stdout, "Local node ID %d, transport %s\n", local, transport)
	js.header(local, transport)
	if act == actNodeStatus {
		for _, id := range nodes {
			ns, err := c.NodeStatus(ctx, id)
			if err != nil || ns.Reachable == 0 || ns.NodeID == local {
				continue
			}
			js.node(ns, linkTransport[:])
			fmt.Fprintf(stdout, "nodeid: %d reachable", ns.NodeID)
			if ns.Remote != 0 {
				fmt.Fprint(stdout, " remote")
			}
			if ns.External != 0 {
				fmt.Fprint(stdout, " external")
			}
			// Debian's 3.1.7 is built without HAVE_KNET_ONWIRE_VER, so no
			// "onwire (min/max/cur)" part even on knet.
			fmt.Fprint(stdout, "\n")
			for j, l := range ns.Links {
				if l.Enabled == 0 {
					continue
				}
				arrow := ""
				if knet {
					arrow = "->"
				}
				fmt.Fprintf(stdout, "   LINK: %d %s (%s%s%s) enabled", j, linkTransport[j], l.SrcAddr, arrow, l.DstAddr)
				if l.Connected != 0 {
					fmt.Fprint(stdout, " connected")
				}
				if l.DynConnected != 0 {
					fmt.Fprint(stdout, " dynconnected")
				}
				fmt.Fprintf(stdout, " mtu: %d\n", int32(l.MTU))
			}
			fmt.Fprint(stdout, "\n")
		}
		return 0
	}
	info := make([]cfg.NodeStatus, len(nodes))
	for i, id := range nodes {
		ns, err := c.NodeStatus(ctx, id)
		if err != nil {
			fmt.Fprintf(stderr, "Could not get the node status for nodeid %d, the error is: %d\n", int32(id), client.Code(err))
			continue
		}
		info[i] = ns
	}
	for i := 0; i < cfg.MaxLinks; i++ {
		if info[otherIdx].Links[i].Enabled == 0 {
			continue
		}
		js.link(i, linkTransport[i], info[otherIdx].Links[i].SrcAddr, info, localIdx)
		fmt.Fprintf(stdout, "LINK ID %d %s\n", i, linkTransport[i])
		fmt.Fprintf(stdout, "\taddr\t= %s\n", info[otherIdx].Links[i].SrcAddr)
		if brief {
			var b strings.Builder
			for j := range nodes {
				l := info[j].Links[i]
				ch := (l.Enabled | l.Connected<<1) + '0'
				if j == localIdx {
					ch = 'n'
				}
				b.WriteByte(ch)
			}
			fmt.Fprintf(stdout, "\tstatus\t= %s\n", b.String())
			continue
		}
		fmt.Fprint(stdout, "\tstatus:\n")
		for j := range nodes {
			state := "disconnected"
			switch {
			case j == localIdx:
				state = "localhost"
			case info[j].Links[i].Connected != 0:
				state = "connected"
			}
			fmt.Fprintf(stdout, "\t\tnodeid: %10d:\t%s\n", info[j].NodeID, state)
		}
	}
	return 0
}

// isNodeIDKey matches "nodelist.node.<unsigned>.nodeid" exactly, like the
// tool's sscanf with %*u and %n (which also takes a sign and spaces).
func isNodeIDKey(k string) bool {
	rest, ok := strings.CutPrefix(k, "nodelist.node.")
	if !ok {
		return false
	}
	num, ok := strings.CutSuffix(rest, ".nodeid")
	return ok && scanUnsigned(num) == len(num) && len(num) > 0
}

// interfaceLink parses the link number of "totem.interface.<n>…": the
// tool's sscanf succeeds as soon as %u converted, whatever follows.
func interfaceLink(k string) (int, bool) {
	rest, ok := strings.CutPrefix(k, "totem.interface.")
	if !ok {
		return 0, false
	}
	n := scanUnsigned(rest)
	if n == 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimLeft(rest[:n], " \t\n\v\f\r+"), 10, 32)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// scanUnsigned returns how many bytes of s sscanf's %u consumes: spaces,
// an optional sign, then digits (0 if there are none).
func scanUnsigned(s string) int {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0
	}
	return i
}

// cmapCode is the cs_error_t of a cmap failure.
func cmapCode(err error) cs.Error {
	if code, ok := err.(cs.Error); ok {
		return code
	}
	return client.CSErrorOf(err)
}
