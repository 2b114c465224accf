package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cpgd/client"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// groups is -n: one name per line, or names each followed by the
// delimiter and a final newline. Errors of iteration_next end the list
// silently, as in corosync-cpgtool.
func (t *tool) groups() bool {
	h, err := t.cpg.IterInit(t.ctx, wire.IterNameOnly, "")
	if err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize cpg iterator error %d\n", client.Code(err))
		return false
	}
	for {
		e, err := t.cpg.IterNext(t.ctx, h)
		if err != nil {
			break
		}
		escapeGroup(t.out, t.escape, e.Group)
		if t.delim != 0 {
			t.out.WriteByte(t.delim)
		} else {
			t.out.WriteByte('\n')
		}
	}
	if t.delim != 0 {
		t.out.WriteByte('\n')
	}
	t.cpg.IterFinalize(t.ctx, h)
	return true
}

// groupsWithMembers is the default listing. Without a delimiter a group's
// name is printed when it differs from the previous entry's (the first
// comparison is against an empty name, so a zero-length group never gets
// a name line, as in the real tool) and every member is
// "\t\t%10u\t%10u (addresses)".
func (t *tool) groupsWithMembers() bool {
	h, err := t.cpg.IterInit(t.ctx, wire.IterAll, "")
	if err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize cpg iterator error %d\n", client.Code(err))
		return false
	}
	if t.delim != 0 {
		fmt.Fprintf(t.out, "GRP_NAME%cPID%cNODEID\n", t.delim, t.delim)
	} else {
		fmt.Fprintf(t.out, "Group Name\t%10s\t%10s\n", "PID", "Node ID")
	}
	old := ""
	for {
		e, err := t.cpg.IterNext(t.ctx, h)
		if err == cs.ErrNoSections {
			break
		}
		if err != nil {
			t.out.Flush()
			fmt.Fprintf(t.stderr, "cpg iteration error %d\n", client.Code(err))
			return false
		}
		if t.delim == 0 {
			if e.Group != old {
				escapeGroup(t.out, t.escape, e.Group)
				t.out.WriteByte('\n')
				old = e.Group
			}
			fmt.Fprintf(t.out, "\t\t%10d\t%10d (%s)\n", e.PID, e.NodeID, t.addrs(e.NodeID))
		} else {
			escapeGroup(t.out, t.escape, e.Group)
			fmt.Fprintf(t.out, "%c%d%c%d\n", t.delim, e.PID, t.delim, e.NodeID)
		}
	}
	t.cpg.IterFinalize(t.ctx, h)
	return true
}

// addrs is a node's address list, empty when cfg cannot tell.
func (t *tool) addrs(nodeid uint32) string {
	a, err := nodeAddrs(t.ctx, t.cfg, nodeid)
	if err != nil {
		return ""
	}
	return addrList(a)
}

// jsonOutput is --json's document:
//
//	{"groups": [{"name": "<escaped as the text output, or raw with -e>",
//	             "name_hex": "<the name's bytes in hex>",
//	             "members": [{"pid": 1234, "nodeid": 1, "addrs": ["10.0.0.1"]}]}]}
//
// With -n every group has only name and name_hex. Groups appear in
// iteration order, members in process-list order; addrs lists the live
// addresses cfg reports (empty when it cannot).
type jsonOutput struct {
	Groups []jsonGroup `json:"groups"`
}

type jsonGroup struct {
	Name    string       `json:"name"`
	NameHex string       `json:"name_hex"`
	Members []jsonMember `json:"members,omitempty"`
}

type jsonMember struct {
	PID    uint32   `json:"pid"`
	NodeID uint32   `json:"nodeid"`
	Addrs  []string `json:"addrs"`
}

func (t *tool) json(namesOnly bool) bool {
	typ := wire.IterAll
	if namesOnly {
		typ = wire.IterNameOnly
	}
	h, err := t.cpg.IterInit(t.ctx, typ, "")
	if err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize cpg iterator error %d\n", client.Code(err))
		return false
	}
	doc := jsonOutput{Groups: []jsonGroup{}}
	index := map[string]int{}
	for {
		e, err := t.cpg.IterNext(t.ctx, h)
		if err == cs.ErrNoSections {
			break
		}
		if err != nil {
			fmt.Fprintf(t.stderr, "cpg iteration error %d\n", client.Code(err))
			return false
		}
		i, ok := index[e.Group]
		if !ok {
			var name bytes.Buffer
			escapeGroup(&name, t.escape, e.Group)
			i = len(doc.Groups)
			index[e.Group] = i
			doc.Groups = append(doc.Groups, jsonGroup{Name: name.String(), NameHex: hex.EncodeToString([]byte(e.Group))})
		}
		if namesOnly {
			continue
		}
		m := jsonMember{PID: e.PID, NodeID: e.NodeID, Addrs: []string{}}
		if a, err := nodeAddrs(t.ctx, t.cfg, e.NodeID); err == nil {
			for _, x := range a {
				if x.IsValid() {
					m.Addrs = append(m.Addrs, x.String())
				}
			}
		}
		doc.Groups[i].Members = append(doc.Groups[i].Members, m)
	}
	t.cpg.IterFinalize(t.ctx, h)
	b, err := json.Marshal(doc)
	if err != nil {
		fmt.Fprintf(t.stderr, "json: %v\n", err)
		return false
	}
	t.out.Write(append(b, '\n'))
	return true
}
