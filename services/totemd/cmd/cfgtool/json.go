package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
)

// statusJSON is what --json prints for -s and -n (schema in jsonHelp and
// docs/json.md): the facts of the text view, nothing more. Its methods
// accept a nil receiver (the text-only run) and then do nothing.
type statusJSON struct {
	LocalNodeID uint32     `json:"local_node_id"`
	Transport   string     `json:"transport"`
	Links       []linkJSON `json:"links,omitempty"`
	Nodes       []nodeJSON `json:"nodes,omitempty"`
}

// linkJSON is one link of -s: the address the text shows and each node's
// state. That address is the link's source address in the status of the
// last other node; on udp/udpu corosync 3.1.7 fills it with that member's
// own address (totemudpu_nodestatus_get), and needle does the same.
type linkJSON struct {
	LinkID    int             `json:"link_id"`
	Transport string          `json:"transport,omitempty"`
	Addr      string          `json:"addr"`
	Nodes     []linkStateJSON `json:"nodes"`
}

type linkStateJSON struct {
	NodeID uint32 `json:"node_id"`
	State  string `json:"state"` // localhost, connected, disconnected
}

// nodeJSON is one reachable node of -n.
type nodeJSON struct {
	NodeID    uint32         `json:"node_id"`
	Reachable bool           `json:"reachable"`
	Remote    bool           `json:"remote"`
	External  bool           `json:"external"`
	Links     []nodeLinkJSON `json:"links"`
}

type nodeLinkJSON struct {
	LinkID       int    `json:"link_id"`
	Transport    string `json:"transport,omitempty"`
	SrcAddr      string `json:"src_addr"`
	DstAddr      string `json:"dst_addr,omitempty"`
	Connected    bool   `json:"connected"`
	DynConnected bool   `json:"dynconnected"`
	MTU          int32  `json:"mtu"`
}

func (j *statusJSON) header(local uint32, transport string) {
	if j != nil {
		j.LocalNodeID, j.Transport = local, transport
	}
}

// link records link i of -s; info holds every configured node's status
// in node id order, localIdx is this node's place in it.
func (j *statusJSON) link(i int, transport, addr string, info []cfg.NodeStatus, localIdx int) {
	if j == nil {
		return
	}
	l := linkJSON{LinkID: i, Transport: transport, Addr: addr, Nodes: []linkStateJSON{}}
	for k, ns := range info {
		state := "disconnected"
		switch {
		case k == localIdx:
			state = "localhost"
		case ns.Links[i].Connected != 0:
			state = "connected"
		}
		l.Nodes = append(l.Nodes, linkStateJSON{NodeID: ns.NodeID, State: state})
	}
	j.Links = append(j.Links, l)
}

// node records one reachable remote node of -n with its enabled links.
func (j *statusJSON) node(ns cfg.NodeStatus, transports []string) {
	if j == nil {
		return
	}
	n := nodeJSON{NodeID: ns.NodeID, Reachable: ns.Reachable != 0, Remote: ns.Remote != 0, External: ns.External != 0, Links: []nodeLinkJSON{}}
	for i, l := range ns.Links {
		if l.Enabled == 0 {
			continue
		}
		nl := nodeLinkJSON{LinkID: i, Transport: transports[i], SrcAddr: l.SrcAddr, DstAddr: l.DstAddr,
			Connected: l.Connected != 0, DynConnected: l.DynConnected != 0, MTU: int32(l.MTU)}
		n.Links = append(n.Links, nl)
	}
	j.Nodes = append(j.Nodes, n)
}

// write prints the object, indented, with a final newline.
func (j *statusJSON) write(stdout, stderr io.Writer) int {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "json: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return 1
	}
	return 0
}

// jsonHelp follows the usage when --json is given without -s or -n (the
// usage alone stays corosync-cfgtool's, byte for byte).
const jsonHelp = `
needle extension:
	--json	With -s (-b is ignored) or -n: print one JSON object instead of
		the text; messages and exit codes are unchanged, nothing is
		printed on stdout on failure. Schema (docs/json.md):

	{
	  "local_node_id": 1,
	  "transport": "udpu",
	  "links": [                              (-s only)
	    {"link_id": 0, "transport": "udp",     (knet only)
	     "addr": "10.0.0.3",                   (as the text: on udp/udpu
	                                            the last other node's)
	     "nodes": [{"node_id": 1, "state": "localhost"},
	               {"node_id": 2, "state": "connected"}]}   (or "disconnected")
	  ],
	  "nodes": [                              (-n only: reachable remote nodes)
	    {"node_id": 2, "reachable": true, "remote": false, "external": false,
	     "links": [{"link_id": 0, "src_addr": "10.0.0.1",
	                "dst_addr": "10.0.0.2",      (when known)
	                "connected": true, "dynconnected": false, "mtu": 1500}]}
	  ]
	}
`
