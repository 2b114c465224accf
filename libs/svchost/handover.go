package svchost

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/vmihailenco/msgpack/v5"
)

// Why hand over at all: ipcproto's doc, "Handing a daemon over to its
// successor". A daemon restarted on purpose (SIGTERM) gives its libqb
// clients, its service's state and its bus session to the next daemon of
// its service through totemd, so that its clients never see their
// connection end and the other nodes never see the service leave. Pacemaker
// needs it: its daemons exit when they lose CPG, and pacemakerd then
// respawns them only if a CPG connection made at that moment succeeds.

// Handoff is implemented by a Service that can hand its state to its
// successor. Every method runs on the owner goroutine.
type Handoff interface {
	// Quiet reports whether the state can be handed over now: nothing
	// of the service's own in flight on the ring (no multicast or
	// membership change of its own sent and not yet delivered, no sync
	// state) — everything else the host checks itself. If not, why.
	Quiet() (bool, string)
	// Handoff returns the service's whole state, its clients' included
	// (named by Client.Endpoint and Client.Conn.ID(), which the successor's
	// clients keep). It is called once the bus holds the daemon's frames
	// and no client request is in progress; nothing else of the service
	// is called afterwards.
	Handoff() ([]byte, error)
	// Resume replaces Attached in a successor: the bus session as the
	// predecessor left it, the state its Handoff returned, and the
	// clients taken over (their Values are nil: set them). An error
	// drops the clients and attaches afresh.
	Resume(h Host, a Attachment, state []byte, clients []*Client) error
}

// Limits of a handover.
const (
	// handoverTimeout bounds how long a stopping daemon waits for a quiet
	// moment (its clients' requests in progress answered, its multicasts
	// delivered, no sync round) before it stops the ordinary way.
	handoverTimeout = 3 * time.Second
	// handoverChunk is the state carried by one KindHandover frame.
	handoverChunk = 1 << 20
	// handoverVersion changes with handoverState's meaning.
	handoverVersion = 1
)

// handoverState is what a daemon hands its successor, besides the
// descriptors: its bus session, its clients' libqb connections and its
// service's state.
type handoverState struct {
	Version        int                `msgpack:"v"`
	Program        string             `msgpack:"p"`
	Service        uint16             `msgpack:"s"`
	NodeID         uint32             `msgpack:"n"`
	Ring           ipcproto.Ring      `msgpack:"r"`
	RingMembers    []uint32           `msgpack:"rm"`
	ServiceMembers []uint32           `msgpack:"sm"`
	NextID         [2]uint64          `msgpack:"id"` // the ordinary and the sync stream's last multicast id
	Ready          bool               `msgpack:"rd"`
	Endpoints      []handoverEndpoint `msgpack:"e"`
	State          []byte             `msgpack:"st"`
}

type handoverEndpoint struct {
	Name  string         `msgpack:"n"`
	Conns []handoverConn `msgpack:"c"`
}

// handoverConn is one libqb connection: qbipc.Parked.Encode's state and
// how many of the handover's descriptors, in order, are its own.
type handoverConn struct {
	State []byte `msgpack:"s"`
	Files int    `msgpack:"f"`
}

// HandOverOnStop makes the daemon hand itself over to its successor when
// Run's context ends (Main: on SIGTERM), if its Service implements
// Handoff; otherwise it stops the ordinary way, its clients disconnected.
// Safe from any goroutine.
func (d *Daemon) HandOverOnStop() { d.handOver.Store(true) }

// runOps runs owner work until cond holds (checked before each piece of
// work) or deadline passes; it reports whether cond held.
func (d *Daemon) runOps(cond func() bool, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for !cond() {
		select {
		case f := <-d.ops:
			d.step(f)
		case <-t.C:
			return cond()
		}
	}
	return true
}

// quiet reports whether the daemon can hand over now, and if not why.
func (d *Daemon) quiet(ho Handoff) (bool, string) {
	b := d.bus
	switch {
	case !b.attached:
		return false, "not attached to totemd"
	case b.round != nil:
		return false, "a sync round runs"
	case b.q.backlog()+b.sq.backlog() > 0:
		return false, fmt.Sprintf("%d multicasts not yet accepted by the ring", b.q.backlog()+b.sq.backlog())
	case len(b.reqs) > 0:
		return false, fmt.Sprintf("%d bus requests not yet answered", len(b.reqs))
	case len(b.held) > 0:
		return false, fmt.Sprintf("%d bus frames to send", len(b.held))
	}
	return ho.Quiet()
}

// handOff hands the daemon over (Handoff): it pauses the endpoints, waits
// for a quiet moment, parks the bus session and sends everything to
// totemd. It reports whether the clients went to the successor; when it
// did not, the daemon stops the ordinary way (a paused endpoint still
// closes its clients).
func (d *Daemon) handOff(ho Handoff) bool {
	deadline := time.Now().Add(handoverTimeout)
	why := "not attached to totemd"
	fail := func() bool {
		d.bus.unpark()
		d.log.Warn("no handover to a successor; stopping with the clients disconnected", "reason", why)
		return false
	}
	if !d.bus.attached {
		return fail()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var pauseErr error
	paused := false
	go func() {
		var err error
		for _, e := range d.endpoints {
			if err = e.srv.Pause(ctx); err != nil {
				err = fmt.Errorf("libqb service %s: %w", e.cfg.Service, err)
				break
			}
		}
		d.Post(func() { pauseErr, paused = err, true })
	}()
	if !d.runOps(func() bool { return paused }, deadline.Add(time.Second)) || pauseErr != nil {
		why = fmt.Sprintf("clients' requests still in progress: %v", pauseErr)
		return fail()
	}
	for {
		ok := d.runOps(func() bool {
			q, r := d.quiet(ho)
			why = r
			return q || !d.bus.attached
		}, deadline)
		if !ok || !d.bus.attached {
			return fail()
		}
		if !d.bus.park() || !d.runOps(func() bool { return d.bus.parked || !d.bus.attached }, deadline.Add(time.Second)) {
			why = "totemd did not confirm the park"
			return fail()
		}
		if q, r := d.quiet(ho); q {
			break
		} else {
			why = r
		}
		d.bus.unpark() // busy again: let the frames through and try again
		if time.Now().After(deadline) {
			return fail()
		}
	}
	if err := d.sendHandover(ho); err != nil {
		d.log.Error("handover to a successor failed; the clients handed over are disconnected", "error", err)
		d.bus.handedOver = true
		d.bus.conn.Close()
		return true // the endpoints no longer hold the clients
	}
	d.log.Info("handed the clients and the service's state to totemd for the next daemon")
	return true
}

// sendHandover hands the endpoints' connections over and sends the state
// to totemd (KindHandover frames, KindHandoverEnd); the bus session is
// done afterwards.
func (d *Daemon) sendHandover(ho Handoff) error {
	b := d.bus
	hs := handoverState{
		Version: handoverVersion, Program: d.opts.Program, Service: d.opts.Service,
		NodeID: b.nodeID, Ring: b.att.Ring, RingMembers: b.att.RingMembers, ServiceMembers: b.att.ServiceMembers,
		NextID: [2]uint64{b.q.nextID, b.sq.nextID}, Ready: d.ready,
	}
	var err error
	if hs.State, err = ho.Handoff(); err != nil {
		b.unpark()
		return fmt.Errorf("service state: %w", err)
	}
	var files []*os.File
	defer func() { closeFiles(files) }() // totemd gets its own copies
	for _, e := range d.endpoints {
		parked, herr := e.srv.Handover()
		he := handoverEndpoint{Name: e.cfg.Service}
		for _, p := range parked {
			st, fs, perr := p.Encode()
			if perr != nil && herr == nil {
				herr = perr
			}
			he.Conns = append(he.Conns, handoverConn{State: st, Files: len(fs)})
			files = append(files, fs...)
			if perr != nil {
				p.Close()
			}
		}
		hs.Endpoints = append(hs.Endpoints, he)
		if herr != nil && err == nil {
			err = fmt.Errorf("libqb service %s: %w", e.cfg.Service, herr)
		}
	}
	b.handedOver = true
	if err != nil {
		return err
	}
	blob, err := msgpack.Marshal(&hs)
	if err != nil {
		return fmt.Errorf("encode handover: %w", err)
	}
	n := uint64(0)
	for rest, fs := blob, files; n == 0 || len(rest) > 0 || len(fs) > 0; n++ {
		chunk, k := rest[:min(len(rest), handoverChunk)], min(len(fs), ipcproto.MaxKept)
		if err := b.conn.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: chunk}, fs[:k]); err != nil {
			return fmt.Errorf("send handover frame %d: %w", n, err)
		}
		rest, fs = rest[len(chunk):], fs[k:]
	}
	if err := b.conn.Send(&ipcproto.Msg{Kind: ipcproto.KindHandoverEnd, ID: n}); err != nil {
		return fmt.Errorf("send handover end: %w", err)
	}
	b.conn.Close()
	return nil
}

// resumption is what a successor took over: the bus connection (its
// session held by totemd), the state, and each endpoint's connections.
type resumption struct {
	conn   *ipcproto.Conn
	handed bool // a handover came (else: an ordinary attach)
	state  handoverState
	parked map[string][]*qbipc.Parked
}

// close drops what was taken over (a resumption that cannot be used).
func (r *resumption) close() {
	for _, ps := range r.parked {
		for _, p := range ps {
			p.Close()
		}
	}
	r.parked = nil
}

// resume opens the daemon's bus session with KindResume. It returns the
// connection and, when totemd held a predecessor's handover, what it
// handed over; otherwise the first frame (KindAttached: an ordinary
// attach), which the bus loop takes from there. A daemon that cannot
// reach totemd gets nil and attaches later the ordinary way.
func (d *Daemon) resume() (*resumption, *ipcproto.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keeperTimeout)
	defer cancel()
	conn, err := ipcproto.Dial(ctx, d.busPath)
	if err != nil {
		return nil, nil, err
	}
	r, first, err := d.takeOver(conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return r, first, nil
}

func (d *Daemon) takeOver(conn *ipcproto.Conn) (*resumption, *ipcproto.Msg, error) {
	_ = conn.SetReadDeadline(time.Now().Add(keeperTimeout))
	defer conn.SetReadDeadline(time.Time{})
	if err := conn.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: d.opts.Service, Name: d.opts.Name}); err != nil {
		return nil, nil, err
	}
	var blob []byte
	var files []*os.File
	for n := uint64(0); ; n++ {
		m, fs, err := conn.RecvFiles()
		files = append(files, fs...)
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("receive handover: %w", err)
		}
		switch {
		case m.Kind == ipcproto.KindHandover && len(blob)+len(m.Payload) <= ipcproto.MaxHandoverBytes && len(files) <= ipcproto.MaxHandoverFiles:
			blob = append(blob, m.Payload...)
			continue
		case m.Kind == ipcproto.KindHandoverEnd && m.ID == n && n > 0:
		case n == 0 && len(files) == 0 && m.Kind == ipcproto.KindError:
			return nil, nil, fmt.Errorf("totemd refused %s: %s", d.opts.Program, m.Text)
		case n == 0 && len(files) == 0:
			return &resumption{conn: conn}, m, nil // nothing held: an ordinary attach
		default:
			closeFiles(files)
			return nil, nil, fmt.Errorf("handover from totemd: unexpected %s after %d chunks", m.Kind, n)
		}
		break
	}
	r, err := d.decodeHandover(conn, blob, files)
	return r, nil, err
}

// decodeHandover checks the handed-over state and gives each connection
// its descriptors; on error every descriptor is closed.
func (d *Daemon) decodeHandover(conn *ipcproto.Conn, blob []byte, files []*os.File) (*resumption, error) {
	r := &resumption{conn: conn, handed: true, parked: map[string][]*qbipc.Parked{}}
	fail := func(err error) (*resumption, error) {
		closeFiles(files)
		r.close()
		return nil, fmt.Errorf("handover from the previous %s: %w", d.opts.Program, err)
	}
	if err := ipcproto.Unmarshal(blob, &r.state); err != nil {
		return fail(fmt.Errorf("decode %d bytes: %w", len(blob), err))
	}
	hs := &r.state
	if hs.Version != handoverVersion || hs.Program != d.opts.Program || hs.Service != d.opts.Service {
		return fail(fmt.Errorf("state of %s version %d for service %d, want %s version %d for service %d",
			hs.Program, hs.Version, hs.Service, d.opts.Program, handoverVersion, d.opts.Service))
	}
	for _, e := range hs.Endpoints {
		known := false
		for _, name := range d.opts.Endpoints {
			known = known || name == e.Name
		}
		if !known {
			return fail(fmt.Errorf("clients of libqb service %q, which this daemon does not serve", e.Name))
		}
		for i, c := range e.Conns {
			if c.Files < 0 || c.Files > len(files) {
				return fail(fmt.Errorf("libqb service %s connection %d: %d descriptors, %d left", e.Name, i, c.Files, len(files)))
			}
			p, err := qbipc.DecodeParked(c.State, files[:c.Files])
			files = files[c.Files:]
			if err != nil {
				return fail(fmt.Errorf("libqb service %s connection %d: %w", e.Name, i, err))
			}
			r.parked[e.Name] = append(r.parked[e.Name], p)
		}
	}
	if len(files) > 0 {
		return fail(fmt.Errorf("%d descriptors beyond the connections'", len(files)))
	}
	return r, nil
}
