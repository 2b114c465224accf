// Package daemon is cmapd's driver: one goroutine owns the map (store.Store
// is not goroutine-safe) and runs everything that touches it as a closure
// posted to its queue — libqb client requests, bus messages from totemd,
// configuration reloads and the 1.5 s statistics poll. The other
// goroutines only move bytes (IPC connections, the bus reader, the file
// watcher).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
	"github.com/needle-cluster/needle/services/cmapd/internal/dispatch"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// StatsPeriod is how often statistics trackers are evaluated (corosync's
// stats updater runs every 1.5 s).
const StatsPeriod = 1500 * time.Millisecond

// Config says where cmapd finds its inputs.
type Config struct {
	// ConfPath is corosync.conf; it is watched for changes.
	ConfPath string
	// BusPath is totemd's service bus socket.
	BusPath string
	// Logs are the daemon's sinks; reloads re-apply logging.* to them.
	Logs *logsys.Logsys
	// Debounce is the quiet time after the last change of ConfPath before
	// it is reloaded; 0 means 150 ms.
	Debounce time.Duration
}

// Daemon is a loaded cmapd; Run serves it.
type Daemon struct {
	cfg Config
	log hclog.Logger
	ops chan func()
	// fatal ends Run with an error (e.g. a config_version mismatch).
	fatal chan error
	// stopped is closed when Run returns: nothing runs posted work after.
	stopped chan struct{}

	// Owned by the Run goroutine from here on.
	st        *store.Store
	transport qbipc.Transport
	conns     map[store.ConnID]*ipcConn
	ipcActive uint64
	ipcClosed uint64
	bus       *busSession
	ver       *cfgver.Service
	nodeID    uint32
	mq        []mcastItem
	inflight  bool
	mcastID   uint64
}

// New loads the configuration as corosync's start-up does and builds the
// initial map. Errors carry corosync's messages (a *coroconf.Error).
func New(cfg Config) (*Daemon, error) {
	if cfg.Debounce == 0 {
		cfg.Debounce = 150 * time.Millisecond
	}
	res, err := coroconf.Check(cfg.ConfPath, coroconf.CheckOptions{Needle: true})
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:     cfg,
		log:     cfg.Logs.Logger("CMAP"),
		ops:     make(chan func(), 256),
		fatal:   make(chan error, 1),
		stopped: make(chan struct{}),
		st:      store.New(),
		conns:   make(map[store.ConnID]*ipcConn),
	}
	for _, w := range res.Warnings {
		d.log.Warn(w)
	}
	for k, v := range load.Initial(res.Map) {
		if r := d.st.Set(k, v); r.Err != cs.OK {
			d.log.Warn("key not stored", "key", k, "error", r.Err)
		}
	}
	if _, err := d.st.Track(cfgver.Key, cfgver.TrackFlags, 0); err != cs.OK {
		return nil, fmt.Errorf("track %s: %s", cfgver.Key, err)
	}
	for _, k := range store.StaticStats() {
		d.st.PutStat(k.Key, zero(k.Type))
	}
	d.putGlobalStats()
	qt := "native"
	if v, ok := d.st.Get("system.qb_ipc_type"); ok {
		qt, _ = v.AsString()
	}
	if d.transport, err = qbipc.ParseTransport(qt); err != nil {
		return nil, fmt.Errorf("system.qb_ipc_type: %w", err)
	}
	return d, nil
}

func zero(t value.Type) value.Value { return value.Value{Type: t, Data: make([]byte, t.Size())} }

// Run serves the libqb "cmap" endpoint, attaches to the bus and watches
// the configuration file until ctx ends or a fatal condition (returned).
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer close(d.stopped)
	srv, err := qbipc.Listen(qbipc.Config{Service: "cmap", Transport: d.transport}, &ipcHandler{d: d})
	if err != nil {
		return fmt.Errorf("listen on libqb service cmap: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	go d.busLoop(ctx)
	if err := d.watch(ctx); err != nil {
		d.log.Warn("configuration file is not watched; reload only on request", "error", err)
	}
	d.log.Info("cmap service ready", "ipc", d.transport.String())
	tick := time.NewTicker(StatsPeriod)
	defer tick.Stop()
	var result error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case f := <-d.ops:
			f()
		case <-tick.C:
			d.pollStats()
		case result = <-d.fatal:
			break loop
		}
	}
	cancel()
	// Connections still finishing a request wait for the owner: keep
	// running posted work until the server has closed them all.
	for {
		select {
		case f := <-d.ops:
			f()
		case err := <-done:
			if result == nil && err != nil && !errors.Is(err, context.Canceled) {
				result = err
			}
			return result
		}
	}
}

// post queues f for the owner goroutine.
func (d *Daemon) post(ctx context.Context, f func()) bool {
	select {
	case d.ops <- f:
		return true
	case <-ctx.Done():
		return false
	case <-d.stopped:
		return false
	}
}

// do runs f on the owner goroutine and waits for it.
func (d *Daemon) do(ctx context.Context, f func()) bool {
	ch := make(chan struct{})
	if !d.post(ctx, func() { f(); close(ch) }) {
		return false
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-d.stopped:
		return false
	}
}

// deliver sends client events in change order and acts on the daemon's own
// tracker events (totem.config_version).
func (d *Daemon) deliver(evs []store.Event) {
	clients, internal := dispatch.Events(evs)
	d.sendEvents(clients)
	d.internal(internal)
}

func (d *Daemon) sendEvents(out []dispatch.Outgoing) {
	for _, o := range out {
		if c, ok := d.conns[o.Conn]; ok {
			if err := c.qc.SendEvent(o.Msg); err != nil {
				d.log.Debug("event not sent", "conn", o.Conn, "error", err)
			}
		}
	}
}

func (d *Daemon) internal(evs []store.Event) {
	for _, e := range evs {
		if e.Key != cfgver.Key || d.ver == nil {
			continue
		}
		v, ok := d.st.Get(cfgver.Key)
		d.mcast(d.ver.ConfigVersionChanged(v, ok), nil)
	}
}

// apply performs daemon writes and delivers their events.
func (d *Daemon) apply(steps []load.Step) {
	evs, errs := load.Apply(d.st, steps)
	for _, e := range errs {
		d.log.Warn("write refused", "key", e.Key, "error", e.Err)
	}
	d.deliver(evs)
}
