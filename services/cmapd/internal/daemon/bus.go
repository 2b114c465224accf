package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
	"github.com/needle-cluster/needle/services/cmapd/internal/members"
)

// busSession is one attachment to totemd; a new one is made after every
// reconnect so late messages of an old session are recognised.
type busSession struct {
	conn     *ipcproto.Conn
	attached bool
}

// mcastItem is a queued ring multicast; done runs once the ring took it.
type mcastItem struct {
	payload []byte
	done    func()
	id      uint64 // bus mcast id, given at the first send
}

// Reattach backoff bounds.
const (
	busRetryMin = 100 * time.Millisecond
	busRetryMax = 2 * time.Second
	mcastRetry  = 20 * time.Millisecond
)

// busLoop keeps cmapd attached to totemd, reconnecting with backoff when
// totemd is not there or restarts.
func (d *Daemon) busLoop(ctx context.Context) {
	wait := busRetryMin
	var lastErr string
	for ctx.Err() == nil {
		start := time.Now()
		err := d.busSessionRun(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 5*time.Second {
			wait = busRetryMin
		}
		if msg := err.Error(); msg != lastErr {
			d.log.Warn("service bus unavailable, retrying", "bus", d.cfg.BusPath, "error", err)
			lastErr = msg
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, busRetryMax)
	}
}

// busSessionRun attaches once and feeds every bus message to the owner
// until the connection ends.
func (d *Daemon) busSessionRun(ctx context.Context) error {
	conn, err := ipcproto.Dial(ctx, d.cfg.BusPath)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	s := &busSession{conn: conn}
	if err := conn.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: serviceID, Name: "cmap"}); err != nil {
		return err
	}
	for {
		m, err := conn.Recv()
		if err != nil {
			d.post(ctx, func() { d.busDetached(s) })
			if errors.Is(err, io.EOF) {
				return errors.New("totemd closed the bus connection")
			}
			return err
		}
		if m.Kind == ipcproto.KindError {
			d.post(ctx, func() { d.busDetached(s) })
			return fmt.Errorf("totemd refused cmapd: %s", m.Text)
		}
		if !d.post(ctx, func() { d.onBus(s, m) }) {
			return ctx.Err()
		}
	}
}

func (d *Daemon) busDetached(s *busSession) {
	if d.bus != s {
		return
	}
	d.bus = nil
	d.mq, d.inflight = nil, false
	d.log.Warn("detached from totemd")
}

// onBus handles one message of session s on the owner goroutine.
func (d *Daemon) onBus(s *busSession, m *ipcproto.Msg) {
	d.log.Debug("bus message", "kind", m.Kind.String(), "id", m.ID, "from", m.From, "members", m.Members, "trans", m.Trans)
	if m.Kind == ipcproto.KindAttached {
		d.attached(s, m)
		return
	}
	if d.bus != s {
		return
	}
	switch m.Kind {
	case ipcproto.KindConfChg:
		d.confChg(m.Conf.Left, m.Conf.Joined)
	case ipcproto.KindSyncInit:
		v, ok := d.st.Get(cfgver.Key)
		d.ver.SyncInit(m.Trans, m.Members, v, ok)
	case ipcproto.KindSyncProcess:
		round, ring := m.ID, *m.Ring
		v, ok := d.st.Get(cfgver.Key)
		d.mcast(d.ver.SyncProcess(v, ok), func() {
			if d.bus == s {
				d.busSend(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: round, Ring: &ring})
			}
		})
	case ipcproto.KindSyncActivate:
		if stop, reason := d.ver.SyncActivate(); stop {
			d.log.Error(reason)
			select {
			case d.fatal <- errors.New(reason):
			default:
			}
		}
	case ipcproto.KindSyncAbort:
		d.ver.SyncAbort()
	case ipcproto.KindDeliver:
		d.deliverRing(m.From, m.Payload, m.Swapped)
	case ipcproto.KindMcastAck:
		d.mcastAck(m)
	case ipcproto.KindRequest:
		st, payload := d.execBatch(m.Payload)
		d.busSend(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: st, Payload: payload})
	case ipcproto.KindResponse:
		// cmapd sends no requests of its own.
	}
}

// attached starts a session: the node id, and runtime.members brought in
// line with the current ring (cmapd may start, or restart, after the ring
// formed).
func (d *Daemon) attached(s *busSession, m *ipcproto.Msg) {
	d.bus, s.attached = s, true
	d.mq, d.inflight = nil, false
	if d.ver == nil || d.nodeID != m.NodeID {
		d.ver = cfgver.New(m.NodeID)
	}
	d.nodeID = m.NodeID
	d.log.Info("attached to totemd", "nodeid", m.NodeID, "members", m.Members)
	var left, joined []uint32
	for _, k := range d.st.Keys("runtime.members.") {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(k, "runtime.members."), ".status")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(rest, 10, 32)
		if err != nil {
			continue
		}
		if v, _ := d.st.Get(k); isStr(v, "joined") && !slices.Contains(m.Members, uint32(id)) {
			left = append(left, uint32(id))
		}
	}
	for _, id := range m.Members {
		if v, ok := d.st.Get(fmt.Sprintf("runtime.members.%d.status", id)); !ok || !isStr(v, "joined") {
			joined = append(joined, id)
		}
	}
	d.confChg(left, joined)
}

func isStr(v value.Value, s string) bool {
	x, ok := v.AsString()
	return ok && x == s
}

// confChg writes runtime.members.* for a ring change.
func (d *Daemon) confChg(left, joined []uint32) {
	js := make([]members.Joined, 0, len(joined))
	for _, id := range joined {
		js = append(js, members.Joined{NodeID: id, Addrs: d.nodeAddrs(id)})
	}
	d.apply(members.ConfChg(d.st, left, js))
}

// nodeAddrs finds a node's link addresses in the nodelist.
func (d *Daemon) nodeAddrs(id uint32) []netip.Addr {
	for _, k := range d.st.Keys("nodelist.node.") {
		base, ok := strings.CutSuffix(k, ".nodeid")
		if !ok {
			continue
		}
		v, _ := d.st.Get(k)
		if n, ok := v.AsUint(); !ok || n != uint64(id) {
			if s, ok := v.AsString(); !ok || s != strconv.FormatUint(uint64(id), 10) {
				continue
			}
		}
		var addrs []netip.Addr
		for link := 0; link < 8; link++ {
			av, ok := d.st.Get(fmt.Sprintf("%s.ring%d_addr", base, link))
			if !ok {
				continue
			}
			for len(addrs) < link {
				addrs = append(addrs, netip.Addr{})
			}
			s, _ := av.AsString()
			addrs = append(addrs, resolve(s))
		}
		return addrs
	}
	return nil
}

func resolve(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s); err == nil && len(as) > 0 {
		return as[0]
	}
	return netip.Addr{}
}

// deliverRing handles a cmap ring message: the config_version exchange.
func (d *Daemon) deliverRing(from uint32, payload []byte, swapped bool) {
	if len(payload) < 4 || d.ver == nil {
		return
	}
	id := binary.NativeEndian.Uint32(payload)
	if swapped {
		id = bits.ReverseBytes32(id)
	}
	if id>>16 != serviceID || id&0xffff != cfgver.MsgID {
		return
	}
	d.deliver(d.st.FastAdjust("runtime.services.cmap.0.rx", 1).Events)
	key, v, ok, err := d.ver.Deliver(from, payload, swapped)
	if err != nil {
		d.log.Warn("ring message dropped", "error", err)
		return
	}
	if ok {
		d.deliver(d.st.Set(key, v).Events)
	}
}

// mcast queues a ring multicast; one is in flight at a time, so the ring
// sees them in the order they were made.
func (d *Daemon) mcast(payload []byte, done func()) {
	if d.bus == nil {
		return
	}
	d.mq = append(d.mq, mcastItem{payload: payload, done: done})
	d.pump()
}

func (d *Daemon) pump() {
	if d.bus == nil || d.inflight || len(d.mq) == 0 {
		return
	}
	it := &d.mq[0]
	if it.id == 0 { // a refused message goes again under its own id (ipcproto's contract)
		d.mcastID++
		it.id = d.mcastID
	}
	d.inflight = true
	d.busSend(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: it.id, Payload: it.payload})
}

func (d *Daemon) mcastAck(m *ipcproto.Msg) {
	if !d.inflight || len(d.mq) == 0 || m.ID != d.mq[0].id {
		return
	}
	d.inflight = false
	switch m.Status {
	case cs.OK:
		it := d.mq[0]
		d.mq = d.mq[1:]
		d.deliver(d.st.FastAdjust("runtime.services.cmap.0.tx", 1).Events)
		if it.done != nil {
			it.done()
		}
		d.pump()
	case cs.ErrTryAgain:
		s := d.bus
		time.AfterFunc(mcastRetry, func() {
			d.post(context.Background(), func() {
				if d.bus == s {
					d.pump()
				}
			})
		})
	default:
		d.log.Error("ring refused a cmap message", "status", m.Status)
		d.mq = d.mq[1:]
		d.pump()
	}
}

func (d *Daemon) busSend(m *ipcproto.Msg) {
	if d.bus == nil {
		return
	}
	if err := d.bus.conn.Send(m); err != nil {
		d.log.Warn("bus send failed", "kind", m.Kind.String(), "error", err)
		d.bus.conn.Close()
	}
}
