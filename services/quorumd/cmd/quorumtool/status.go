package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	qclient "github.com/needle-cluster/needle/services/quorumd/client"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// text is where the human-readable output goes: stdout, or nowhere with
// --json (the JSON report is printed at the end instead).
func (t *tool) text() io.Writer {
	if t.json {
		return io.Discard
	}
	return t.out
}

// dispatchQuorum is quorum_dispatch(CS_DISPATCH_ONE) with the tool's
// callback: one event; a V0 notification replaces the stored view.
func (t *tool) dispatchQuorum() (bool, cs.Error) {
	ev, err := t.q.ReadEvent(t.ctx)
	if err != nil {
		return false, qclient.Code(err)
	}
	n, ok := ev.(wire.QNotification)
	if !ok {
		return false, cs.ErrLibrary
	}
	t.quorate, t.ringSeq, t.view = n.Quorate != 0, n.RingSeq, n.View
	return true, cs.OK
}

// vqTrackStart is votequorum_trackstart with context 0; without a
// votequorum connection it fails as libvotequorum does on handle 0.
func (t *tool) vqTrackStart(flags uint32) cs.Error {
	if t.vq == nil {
		return cs.ErrBadHandle
	}
	return qclient.Code(t.vq.TrackStart(t.ctx, 0, flags))
}

// dispatchVotequorum is votequorum_dispatch(CS_DISPATCH_ONE): one event;
// only the nodelist event has a callback in the tool (it learns the ring
// id's representative), the others are dropped.
func (t *tool) dispatchVotequorum() (bool, cs.Error) {
	if t.vq == nil {
		return false, cs.ErrBadHandle
	}
	ev, err := t.vq.ReadEvent(t.ctx)
	if err != nil {
		return false, qclient.Code(err)
	}
	if n, ok := ev.(wire.VQNodelist); ok {
		t.ringRepNode = n.Ring.NodeID
		return true, cs.OK
	}
	return false, cs.OK
}

// showStatus is show_status: 0 quorate, 2 not quorate, 1 on error. The
// error variable flows as in the original (a failed quorum dispatch is
// forgotten once votequorum tracking starts).
func (t *tool) showStatus() int {
	isQuorate, err := t.q.GetQuorate(t.ctx)
	st := qclient.Code(err)
	if st != cs.OK {
		t.errf("Unable to get cluster quorate status: %s\n", st.Strerror())
		return exitFailure
	}
	if st = qclient.Code(t.q.TrackStart(t.ctx, wire.TrackCurrent)); st != cs.OK {
		t.errf("Unable to start quorum status tracking: %s\n", st.Strerror())
		return exitFailure
	}
	for called := false; !called && st == cs.OK; {
		if called, st = t.dispatchQuorum(); st != cs.OK {
			t.errf("Unable to dispatch quorum status: %s\n", st.Strerror())
		}
	}
	if t.q.TrackStop(t.ctx) != nil {
		t.errf("Unable to stop quorum status tracking: %s\n", st.Strerror())
	}
	// The original tests using_votequorum() for non-zero, and it is -1
	// without a provider: the call then meets a null handle.
	if t.usingVotequorum() != 0 {
		if st = t.vqTrackStart(wire.TrackCurrent); st != cs.OK {
			t.errf("Unable to start votequorum status tracking: %s\n", st.Strerror())
			return exitFailure
		}
		for called := false; !called && st == cs.OK; {
			if called, st = t.dispatchVotequorum(); st != cs.OK {
				t.errf("Unable to dispatch votequorum status: %s\n", st.Strerror())
			}
		}
	}
	if st != cs.OK {
		return exitFailure
	}
	r := &report{}
	st = t.displayQuorumData(isQuorate, r)
	t.printJSON(r)
	if st != cs.OK {
		return exitFailure
	}
	if isQuorate {
		return exitOK
	}
	return exitNotQuorate
}

// displayQuorumData is display_quorum_data; it returns the status of the
// local GETINFO (CS_OK when votequorum is not in use).
func (t *tool) displayQuorumData(isQuorate bool, r *report) cs.Error {
	w := t.text()
	now := time.Now()
	fmt.Fprintf(w, "Quorum information\n------------------\n")
	fmt.Fprintf(w, "Date:             %s\n", now.Format("Mon Jan _2 15:04:05 2006"))
	provider, ok := t.quorumType()
	if !ok {
		provider = "Not configured"
	}
	fmt.Fprintf(w, "Quorum provider:  %s\n", provider)
	fmt.Fprintf(w, "Nodes:            %d\n", len(t.view))
	if t.hex {
		fmt.Fprintf(w, "Node ID:          0x%08x\n", t.ourID)
	} else {
		fmt.Fprintf(w, "Node ID:          %d\n", t.ourID)
	}
	if t.vq != nil {
		fmt.Fprintf(w, "Ring ID:          %x.%x\n", t.ringRepNode, t.ringSeq)
	} else {
		fmt.Fprintf(w, "Ring ID:          %x\n", t.ringSeq)
	}
	fmt.Fprintf(w, "Quorate:          %s\n", yesNo(isQuorate))
	r.Date = now.UTC().Format(time.RFC3339)
	r.Quorum = &quorumJSON{Provider: provider, Nodes: len(t.view), NodeID: t.ourID,
		RingID: ringJSON{NodeID: t.ringRepNode, Seq: t.ringSeq}, Quorate: isQuorate}
	if t.vq == nil {
		return cs.OK
	}
	info, err := t.vq.GetInfo(t.ctx, t.ourID)
	st := qclient.Code(err)
	if st == cs.OK || st == cs.ErrNotExist {
		fmt.Fprintf(w, "\nVotequorum information\n----------------------\n")
		fmt.Fprintf(w, "Expected votes:   %d\n", int32(info.Expected))
		fmt.Fprintf(w, "Highest expected: %d\n", int32(info.HighestExpected))
		fmt.Fprintf(w, "Total votes:      %d\n", int32(info.TotalVotes))
		blocked := "Activity blocked"
		if info.Flags&wire.InfoQuorate != 0 {
			blocked = " "
		}
		fmt.Fprintf(w, "Quorum:           %d %s\n", int32(info.Quorum), blocked)
		flags := flagWords(info.Flags)
		fmt.Fprintf(w, "Flags:            ")
		for _, f := range flags {
			fmt.Fprintf(w, "%s ", f)
		}
		fmt.Fprintf(w, "\n")
		r.Votequorum = &votequorumJSON{Expected: info.Expected, Highest: info.HighestExpected, Total: info.TotalVotes,
			Quorum: info.Quorum, Flags: flags}
	} else {
		t.errf("Unable to get node info: %s\n", st.Strerror())
	}
	t.displayNodesData(r)
	return st
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// flagWords are the Flags: words in the original's order.
func flagWords(f uint32) []string {
	words := []string{}
	for _, x := range []struct {
		bit  uint32
		word string
	}{
		{wire.InfoTwoNode, "2Node"}, {wire.InfoQuorate, "Quorate"}, {wire.InfoWaitForAll, "WaitForAll"},
		{wire.InfoLastManStanding, "LastManStanding"}, {wire.InfoAutoTieBreaker, "AutoTieBreaker"},
		{wire.InfoAllowDownscale, "AllowDownscale"}, {wire.InfoQdeviceRegistered, "Qdevice"},
	} {
		if f&x.bit != 0 {
			words = append(words, x.word)
		}
	}
	return words
}

// padded is print_string_padded: right-aligned in 10 columns, then a space.
func padded(s string) string { return fmt.Sprintf("%10s ", s) }

// viewEntry is one row of the membership table.
type viewEntry struct {
	nodeid uint32
	name   string
}

// displayNodesData is display_nodes_data: GETINFO of every member (kept
// in the original row order), their names, the table in the chosen order,
// and the qdevice line when a member has a registered device.
func (t *tool) displayNodesData(r *report) {
	w := t.text()
	rows := make([]viewEntry, len(t.view))
	infos := make([]wire.VQInfo, len(t.view))
	showQdevice := false
	if t.vq != nil {
		for i, id := range t.view {
			info, err := t.vq.GetInfo(t.ctx, id)
			if err != nil {
				line := fmt.Sprintf("Unable to get node %d info\n", id)
				if t.json {
					t.errf("%s", line)
				}
				io.WriteString(w, line)
			}
			infos[i] = info
			if info.Flags&wire.InfoQdeviceRegistered != 0 {
				showQdevice = true
			}
		}
	}
	for i, id := range t.view {
		rows[i] = viewEntry{nodeid: id, name: t.nodeName(id)}
	}
	fmt.Fprintf(w, "\nMembership information\n----------------------\n")
	io.WriteString(w, padded("Nodeid"))
	if t.vq != nil {
		io.WriteString(w, padded("Votes"))
		if showQdevice || t.parsable {
			io.WriteString(w, padded("Qdevice"))
		}
	}
	io.WriteString(w, "Name\n")
	switch t.sort {
	case sortNodeID:
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].nodeid < rows[j].nodeid })
	case sortName:
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	}
	r.Members = []memberJSON{}
	var ourFlags uint32
	for i, row := range rows {
		m := memberJSON{NodeID: row.nodeid, Name: row.name}
		if t.hex {
			fmt.Fprintf(w, "0x%08x ", row.nodeid)
		} else {
			io.WriteString(w, padded(fmt.Sprint(row.nodeid)))
		}
		if t.vq != nil {
			// The original indexes the unsorted info array with the
			// sorted row number.
			info := infos[i]
			votes := info.Votes
			m.Votes = &votes
			io.WriteString(w, padded(fmt.Sprint(info.Votes)))
			if showQdevice || t.parsable {
				col := "NR"
				if info.Flags&wire.InfoQdeviceRegistered != 0 {
					col = qdeviceColumn(info.Flags)
				}
				m.Qdevice = col
				io.WriteString(w, padded(col))
			}
		}
		io.WriteString(w, row.name)
		if row.nodeid == t.ourID {
			io.WriteString(w, " (local)")
			m.Local = true
			if t.vq != nil {
				ourFlags = infos[i].Flags
			}
		}
		io.WriteString(w, "\n")
		r.Members = append(r.Members, m)
	}
	if showQdevice {
		if t.hex {
			fmt.Fprintf(w, "0x%08x ", wire.QdeviceNodeID)
		} else {
			io.WriteString(w, padded("0"))
		}
		casting := ourFlags&wire.InfoQdeviceCastVote != 0
		var first wire.VQInfo
		if len(infos) > 0 {
			first = infos[0]
		}
		shown := uint32(0)
		if casting {
			shown = first.QdeviceVotes
		}
		io.WriteString(w, padded(fmt.Sprint(shown)))
		fmt.Fprintf(w, "           %s", first.QdeviceName)
		if casting {
			io.WriteString(w, "\n")
		} else {
			fmt.Fprintf(w, " (votes %d)\n", int32(first.QdeviceVotes))
		}
		r.Qdevice = &qdeviceJSON{Name: first.QdeviceName, Votes: first.QdeviceVotes, Casting: casting}
	}
}

// qdeviceColumn is the A|NA,V|NV,MW|NMW column of a registered device
// (the original formats it into 10 bytes, so at most 9 characters show).
func qdeviceColumn(f uint32) string {
	pick := func(bit uint32, yes, no string) string {
		if f&bit != 0 {
			return yes
		}
		return no
	}
	s := strings.Join([]string{pick(wire.InfoQdeviceAlive, "A", "NA"), pick(wire.InfoQdeviceCastVote, "V", "NV"),
		pick(wire.InfoQdeviceMasterWins, "MW", "NMW")}, ",")
	if len(s) > 9 {
		s = s[:9]
	}
	return s
}

// showNodes is show_nodes (-l).
func (t *tool) showNodes() int {
	if st := qclient.Code(t.q.TrackStart(t.ctx, wire.TrackCurrent)); st != cs.OK {
		t.errf("Unable to start quorum status tracking: %s\n", st.Strerror())
		return exitFailure
	}
	for called := false; !called; {
		var st cs.Error
		if called, st = t.dispatchQuorum(); st != cs.OK {
			t.errf("Unable to dispatch quorum status: %s\n", st.Strerror())
			return exitFailure
		}
	}
	r := &report{}
	t.displayNodesData(r)
	t.printJSON(r)
	return exitOK
}

// monitor is monitor_status (-m): print the status at every change until
// an error.
func (t *tool) monitor() int {
	if t.q.Type() == wire.QuorumFree {
		fmt.Fprintf(t.out, "\nQuorum is not configured - cannot monitor\n")
		return t.showStatus()
	}
	if st := qclient.Code(t.q.TrackStart(t.ctx, wire.TrackChanges)); st != cs.OK {
		t.errf("Unable to start quorum status tracking: %s\n", st.Strerror())
		return exitFailure
	}
	if t.usingVotequorum() != 0 {
		if st := t.vqTrackStart(wire.TrackChanges); st != cs.OK {
			t.errf("Unable to start votequorum status tracking: %s\n", st.Strerror())
			return exitFailure
		}
	}
	for {
		if _, st := t.dispatchQuorum(); st != cs.OK {
			t.errf("Unable to dispatch quorum status: %s\n", st.Strerror())
			return exitFailure
		}
		if t.usingVotequorum() != 0 {
			for called := false; !called; {
				var st cs.Error
				if called, st = t.dispatchVotequorum(); st != cs.OK {
					t.errf("Unable to dispatch votequorum status: %s\n", st.Strerror())
					return exitFailure
				}
			}
		}
		r := &report{}
		st := t.displayQuorumData(t.quorate, r)
		t.printJSON(r)
		fmt.Fprintf(t.text(), "\n")
		t.out.Flush()
		if st != cs.OK {
			t.errf("Unable to display quorum data: %s\n", st.Strerror())
			return exitFailure
		}
	}
}

// unregisterQdevice is -f: unregister whatever device the local node has.
func (t *tool) unregisterQdevice() int {
	info, err := t.vq.GetInfo(t.ctx, t.ourID)
	if err != nil {
		t.errf("Unable to get quorum device info: %s\n", qclient.Code(err).Strerror())
		return exitFailure
	}
	if info.Flags&wire.InfoQdeviceRegistered == 0 {
		return exitOK
	}
	if err := t.vq.QdeviceUnregister(t.ctx, info.QdeviceName); err != nil {
		t.errf("Unable to unregister quorum device: %s\n", qclient.Code(err).Strerror())
		return exitFailure
	}
	return exitOK
}
