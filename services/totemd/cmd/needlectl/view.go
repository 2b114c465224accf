package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// writeJSON prints the status as one indented JSON object.
func (st *status) writeJSON(w io.Writer) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeText prints the one-screen view.
func (st *status) writeText(w io.Writer) {
	r := st.ring
	fmt.Fprintf(w, "Node:      %d (transport %s)\n", r.LocalNodeID, r.Transport)
	if q := st.quorum.Quorum; q != nil && q.RingID.NodeID != 0 {
		fmt.Fprintf(w, "Ring ID:   %x.%x\n", q.RingID.NodeID, q.RingID.Seq)
	} else {
		fmt.Fprintf(w, "Ring ID:   unknown (needs votequorum)\n")
	}

	fmt.Fprintf(w, "\nLinks:\n")
	for _, l := range r.Links {
		var states []string
		for _, n := range l.Nodes {
			states = append(states, fmt.Sprintf("%d %s", n.NodeID, n.State))
		}
		// No address: on udp/udpu corosync's cfg reports there another
		// node's address (the members' addresses are listed below).
		fmt.Fprintf(w, "  link %d: %s\n", l.LinkID, strings.Join(states, ", "))
	}

	fmt.Fprintf(w, "\nMembers:\n")
	if msg, ok := st.Unavailable["members"]; ok {
		fmt.Fprintf(w, "  unavailable: %s\n", msg)
	}
	for _, m := range st.Members {
		local := ""
		if m.Local {
			local = " (local)"
		}
		fmt.Fprintf(w, "  %-6d %-8s %s%s\n", m.NodeID, m.Status, m.IP, local)
	}

	fmt.Fprintf(w, "\nQuorum:\n")
	switch q, vq := st.quorum.Quorum, st.quorum.Votequorum; {
	case q == nil:
		fmt.Fprintf(w, "  unavailable: %s\n", st.Unavailable["quorum"])
	default:
		state := "not quorate"
		if q.Quorate {
			state = "quorate"
		}
		fmt.Fprintf(w, "  %s, %d nodes, provider %s\n", state, q.Nodes, q.Provider)
		if vq != nil {
			fmt.Fprintf(w, "  votes %d, expected %d, quorum %d, flags %s\n", vq.Total, vq.Expected, vq.Quorum, strings.Join(vq.Flags, " "))
		}
	}

	fmt.Fprintf(w, "\nCPG groups:\n")
	if st.CPG == nil {
		fmt.Fprintf(w, "  unavailable: %s\n", st.Unavailable["cpg"])
	} else if len(st.cpg.Groups) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for _, g := range st.cpg.Groups {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, fmt.Sprintf("%d/%d", m.NodeID, m.PID))
		}
		noun := "members"
		if len(g.Members) == 1 {
			noun = "member"
		}
		fmt.Fprintf(w, "  %-24s %d %s (node/pid: %s)\n", g.Name, len(g.Members), noun, strings.Join(ms, " "))
	}

	fmt.Fprintf(w, "\nService daemons attached to totemd:\n")
	if st.Services == nil {
		fmt.Fprintf(w, "  unavailable: %s\n", st.Unavailable["services"])
		return
	}
	names := make([]string, 0, len(st.Services))
	for n := range st.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	var on, off []string
	for _, n := range names {
		if st.Services[n] {
			on = append(on, n)
		} else {
			off = append(off, n)
		}
	}
	fmt.Fprintf(w, "  attached:     %s\n", orNone(on))
	fmt.Fprintf(w, "  not attached: %s\n", orNone(off))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
