package svchost

import (
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// The successor's side of a handover (handover.go): at start-up a daemon
// whose Service implements Handoff opens its bus session with KindResume;
// when totemd held a predecessor's handover, the endpoints adopt its
// clients and the Service resumes its state instead of attaching.

// resumeBus opens the bus session with KindResume (a Handoff service with
// endpoints only). It returns nil when the daemon attaches later the
// ordinary way, and the frames already received that the bus loop must
// take first.
func (d *Daemon) resumeBus() (*resumption, []*ipcproto.Msg) {
	if _, ok := d.svc.(Handoff); !ok || len(d.opts.Endpoints) == 0 {
		return nil, nil
	}
	r, first, err := d.resume()
	if err != nil {
		d.log.Debug("no session resumed; attaching the ordinary way", "error", err)
		return nil, nil
	}
	if first != nil {
		return r, []*ipcproto.Msg{first}
	}
	n := 0
	for _, ps := range r.parked {
		n += len(ps)
	}
	d.log.Info("taking over from the previous daemon", "clients", n, "ring", r.state.Ring.String())
	return r, nil
}

// take returns the connections handed over for endpoint name, once.
func (r *resumption) take(name string) []*qbipc.Parked {
	if r == nil {
		return nil
	}
	ps := r.parked[name]
	delete(r.parked, name)
	return ps
}

// drop gives up a resumption before the endpoints adopted its clients:
// their descriptors and the bus connection are closed (totemd then
// detaches the session; the clients see their connections end).
func (r *resumption) drop() {
	if r == nil {
		return
	}
	r.close()
	r.conn.Close()
}

// resumeService makes the resumed session the bus's and, after a
// handover, hands the adopted clients and the state to the Service. It
// returns the session for the bus loop (nil: attach the ordinary way).
// Owner goroutine, before the loop runs.
func (d *Daemon) resumeService(r *resumption, pending []*ipcproto.Msg) *session {
	if r == nil {
		return nil
	}
	b := d.bus
	s := &session{conn: r.conn}
	b.sess = s
	if !r.handed {
		return s
	}
	r.close() // what no endpoint took
	var clients []*Client
	for _, e := range d.endpoints {
		clients = append(clients, e.adopted...)
		e.adopted = nil
	}
	hs := &r.state
	b.conn, b.attached, b.nodeID = r.conn, true, hs.NodeID
	b.att = Attachment{NodeID: hs.NodeID, Ring: hs.Ring, RingMembers: hs.RingMembers, ServiceMembers: hs.ServiceMembers}
	b.q.nextID, b.sq.nextID = hs.NextID[0], hs.NextID[1]
	if d.mirror == b.cmap {
		for _, c := range clients {
			d.stats[c] = c.StatKeys(endpointServiceID(c.Endpoint, d.opts.Service))
		}
	}
	if err := d.svc.(Handoff).Resume(d.host, b.att, hs.State, clients); err != nil {
		d.log.Error("cannot resume the previous daemon's state; its clients are disconnected and the service attaches afresh", "error", err)
		for _, c := range clients {
			delete(d.stats, c)
			c.Conn.Close()
		}
		b.sess, b.conn, b.attached = nil, nil, false
		r.conn.Close()
		return nil
	}
	d.log.Info("resumed the previous daemon's session", "clients", len(clients), "nodeid", hs.NodeID, "ring", hs.Ring.String())
	if hs.Ready {
		d.notifyReady()
	}
	if d.mirror == b.cmap {
		b.cmap.trackAll()
		d.publishAllStats()
	}
	select { // the keeper may hand the sockets over
	case d.attachedCh <- struct{}{}:
	default:
	}
	return s
}
