package svchost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Defaults of Options and of the drain.
const (
	defaultMaxBacklog = 1024
	// drainTimeout bounds how long a stopping daemon waits for its queued
	// multicasts to be accepted before it detaches.
	drainTimeout = 2 * time.Second
	// keptAcceptDelay bounds how long a restarted daemon keeps the clients
	// waiting on its kept sockets (keeper.go) for its first sync round.
	keptAcceptDelay = 5 * time.Second
)

// Daemon is one loaded service daemon; Run serves it. Main builds one from
// the command line; tests build one with New.
type Daemon struct {
	opts    Options
	busPath string
	logs    *logsys.Logsys
	log     hclog.Logger
	svc     Service

	ops     chan func()
	stopped chan struct{}
	// fatal ends Run with an error (Host.Fatal).
	fatal chan error

	// Owned by the Run goroutine from here on.
	transport qbipc.Transport
	endpoints []*Endpoint
	bus       *busState
	mirror    CmapMirror
	rules     UIDGID
	host      *host
	deferred  []func()
	// stats are the published statistics keys of each client (daemons
	// other than cmapd).
	stats map[*Client][]cmapreq.Stat
	// metricsAddr is Config.MetricsAddr; ready is set once systemd was
	// told the daemon is ready (attached, first sync round activated).
	metricsAddr string
	ready       bool
	readyCh     chan struct{} // closed when ready is set
	// attachedCh signals each attach to totemd (keepListeners).
	attachedCh chan struct{}
	// handOver: hand over to a successor when Run's context ends
	// (HandOverOnStop, handover.go).
	handOver atomic.Bool
}

// New loads what the daemon needs before serving: cfg.Keys from the
// configuration (already parsed by Main, or by the test), the logger,
// and the Service (Options.New). busPath is totemd's bus socket.
func New(opts Options, cfg Config, busPath string) (*Daemon, error) {
	if opts.Program == "" || opts.New == nil {
		return nil, errors.New("svchost: Options.Program and Options.New are required")
	}
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = defaultMaxBacklog
	}
	if opts.Name == "" {
		opts.Name = opts.Program
		if len(opts.Endpoints) > 0 {
			opts.Name = opts.Endpoints[0]
		}
	}
	d := &Daemon{
		opts:    opts,
		busPath: busPath,
		logs:    cfg.Logs,
		ops:     make(chan func(), 256),
		stopped: make(chan struct{}),
		fatal:   make(chan error, 1),
		stats:   map[*Client][]cmapreq.Stat{},
		readyCh: make(chan struct{}),

		attachedCh: make(chan struct{}, 1),

		metricsAddr: cfg.MetricsAddr,
	}
	if cfg.Log == nil {
		cfg.Log = d.logger(strings.ToUpper(opts.Program))
	}
	d.log = cfg.Log
	d.host = &host{d: d}
	cfg.Host, cfg.Loop, cfg.Done = d.host, d, d.stopped
	d.bus = newBusState(d)
	d.bus.cmap.seed(cfg.Keys)
	if opts.Transport != nil {
		d.transport = *opts.Transport
	} else {
		qt := "native"
		if v, ok := cfg.Keys["system.qb_ipc_type"]; ok {
			qt, _ = v.AsString()
		}
		t, err := qbipc.ParseTransport(qt)
		if err != nil {
			return nil, fmt.Errorf("system.qb_ipc_type: %w", err)
		}
		d.transport = t
	}
	// The bus mirror is in place before New, so a service can register
	// its watches there (Host.Cmap); cmapd replaces it with its own map.
	d.mirror = d.bus.cmap
	svc, err := opts.New(cfg)
	if err != nil {
		return nil, err
	}
	d.svc = svc
	if o, ok := svc.(CmapOwner); ok {
		d.mirror = o.OwnCmap() // cmapd re-applies its logging on reload itself
	} else if d.logs != nil {
		d.mirror.Watch(loggingPrefix, func([]string) { d.relog() })
	}
	d.rules = UIDGID{Keys: d.mirror, Log: d.logger("MAIN")}
	return d, nil
}

func (d *Daemon) logger(subsys string) hclog.Logger {
	if d.logs == nil {
		return hclog.NewNullLogger()
	}
	return d.logs.Logger(subsys)
}

// Post queues f for the owner goroutine (Loop); false once Run returned.
func (d *Daemon) Post(f func()) bool {
	select {
	case d.ops <- f:
		return true
	case <-d.stopped:
		return false
	}
}

// Run serves the endpoints, keeps the daemon attached to totemd and
// drives the Service until ctx ends (nil) or Host.Fatal (its error).
func (d *Daemon) Run(ctx context.Context) error {
	defer close(d.stopped)
	srvCtx, stopServers := context.WithCancel(context.Background())
	defer stopServers()
	var wg sync.WaitGroup
	serveErr := make(chan error, len(d.opts.Endpoints)+1) // and the metrics server
	// The libqb sockets totemd kept from this daemon's previous run, if
	// any (keeper.go): clients waiting on them are served now.
	var keeper *ipcproto.Conn
	var kept map[string][]*os.File
	var fresh []string
	if len(d.opts.Endpoints) > 0 {
		var err error
		if keeper, kept, err = fetchKept(d.busPath, d.opts.Endpoints); err != nil {
			d.log.Debug("totemd does not keep the libqb sockets yet", "error", err)
		}
	}
	// A predecessor's clients and state, if it handed them over.
	res, pending := d.resumeBus()
	for _, name := range d.opts.Endpoints {
		var h Handler = d.svc
		if d.mirror == d.bus.cmap {
			h = statsHandler{d, endpointServiceID(name, d.opts.Service)}
		}
		inherited := len(kept[name]) > 0
		if inherited {
			d.log.Info("serving on the libqb socket totemd kept; clients that connected meanwhile are accepted now", "name", name)
		} else {
			fresh = append(fresh, name)
		}
		ep, err := ListenEndpoint(EndpointConfig{
			Service: name, Transport: d.transport, Loop: d, Handler: h,
			Rules: d.rules, Log: d.logger("IPC"), Inherited: kept[name], Adopt: res.take(name),
		})
		delete(kept, name)
		if err != nil {
			res.drop()
			for _, fs := range kept {
				closeFiles(fs)
			}
			if keeper != nil {
				keeper.Close()
			}
			stopServers()
			d.drainOps(&wg)
			return err
		}
		d.endpoints = append(d.endpoints, ep)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if inherited {
				// Clients that waited for the restart are accepted once
				// the service can serve them (its first sync round
				// activated), not refused with TRY_AGAIN before that.
				select {
				case <-d.readyCh:
				case <-time.After(keptAcceptDelay):
					d.log.Warn("not ready yet; accepting the clients waiting on a kept socket anyway", "name", name, "after", keptAcceptDelay)
				case <-srvCtx.Done():
				}
			}
			if err := ep.Serve(srvCtx); err != nil {
				serveErr <- fmt.Errorf("libqb service %s: %w", name, err)
			}
		}()
	}
	first := d.resumeService(res, pending)
	if len(d.endpoints) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keepListeners(srvCtx, d.busPath, keeper, d.endpoints, fresh, d.attachedCh, d.logger("IPC"))
		}()
	}
	if d.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(newDaemonCollector(d), collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		ms, err := ListenMetrics(d.metricsAddr, reg)
		if err != nil {
			stopServers()
			d.drainOps(&wg)
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ms.Serve(srvCtx); err != nil {
				serveErr <- err
			}
		}()
		d.log.Info("serving metrics", "address", "http://"+ms.Addr().String()+"/metrics")
	}
	busCtx, stopBus := context.WithCancel(context.Background())
	defer stopBus()
	busDone := make(chan struct{})
	go func() { defer close(busDone); d.bus.loop(busCtx, first, pending) }()
	statsTick := time.NewTicker(StatsPeriod)
	defer statsTick.Stop()
	tick := newTicker(d.opts.TickPeriod, d.svc)
	defer tick.stop()
	d.log.Info("service ready", "endpoints", d.opts.Endpoints, "ipc", d.transport.String())
	var result error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case f := <-d.ops:
			d.step(f)
			tick.update()
		case now := <-tick.C:
			d.step(func() { d.svc.Tick(now) })
			tick.update()
		case <-statsTick.C:
			d.step(d.publishAllStats)
		case result = <-d.fatal:
			break loop
		case err := <-serveErr:
			result = err
			break loop
		}
	}
	// Orderly drain: no new clients or requests, then give queued
	// multicasts a moment to reach the ring, then detach. Or hand the
	// clients and the state over to the next daemon (handover.go).
	handed := false
	if ho, ok := d.svc.(Handoff); ok && result == nil && d.handOver.Load() && len(d.endpoints) > 0 {
		handed = d.handOff(ho)
	}
	stopServers()
	d.drainOps(&wg)
	if !handed {
		d.bus.drain(drainTimeout, d.ops)
	}
	stopBus()
	for {
		select {
		case f := <-d.ops:
			d.step(f)
		case <-busDone:
			d.bus.closed()
			return result
		}
	}
}

// drainOps runs posted work until every endpoint's Serve returned (their
// connections' Disconnects are posted work).
func (d *Daemon) drainOps(wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case f := <-d.ops:
			d.step(f)
		case <-done:
			return
		}
	}
}

// Endpoints are the daemon's libqb endpoints (owner goroutine).
func (d *Daemon) Endpoints() []*Endpoint { return d.endpoints }

// host implements Host for a Daemon.
type host struct{ d *Daemon }

func (h *host) NodeID() uint32 { return h.d.bus.nodeID }

func (h *host) Mcast(payload []byte, done func(cs.Error)) { h.d.bus.mcast(payload, done) }

func (h *host) Backlog() int { return h.d.bus.q.backlog() + h.d.bus.sq.backlog() }

func (h *host) Congested() bool {
	return h.d.bus.conn == nil || h.Backlog() >= h.d.opts.MaxBacklog
}

func (h *host) SyncDone(r SyncRound) { h.d.bus.syncDone(r) }

func (h *host) Request(service uint16, payload []byte, done func(cs.Error, []byte)) {
	h.d.bus.request(service, payload, done)
}

func (h *host) Cmap() CmapMirror { return h.d.mirror }

func (h *host) After(dur time.Duration, f func()) (cancel func()) {
	cancelled := false
	t := time.AfterFunc(dur, func() {
		h.d.Post(func() {
			if !cancelled {
				cancelled = true
				f()
			}
		})
	})
	return func() { cancelled = true; t.Stop() }
}

func (h *host) Logger(subsys string) hclog.Logger { return h.d.logger(subsys) }

func (h *host) Fatal(err error) {
	select {
	case h.d.fatal <- err:
	default:
	}
}

// later runs f on the owner goroutine after the current step returns (the
// contract: done callbacks never run inside the call that set them), in
// the order later was called.
func (d *Daemon) later(f func()) { d.deferred = append(d.deferred, f) }

// step runs one piece of owner work and everything it deferred.
func (d *Daemon) step(f func()) {
	f()
	for len(d.deferred) > 0 {
		g := d.deferred[0]
		d.deferred = d.deferred[1:]
		g()
	}
}

// reopenLogs is corosync-cfgtool -L reaching this daemon through totemd:
// its log files are opened again at their paths (after a rotation moved
// them).
func (d *Daemon) reopenLogs() {
	if d.logs == nil {
		return
	}
	if err := d.logs.Reopen(); err != nil {
		d.log.Error("cannot reopen log files", "error", err)
		return
	}
	d.log.Info("log files reopened")
}

// relog re-applies the mirrored logging.* keys to the daemon's logs (a
// reload changed them); keys that do not make a valid logging section
// leave the logs as they are, with the reason logged.
func (d *Daemon) relog() {
	keys := coroconf.Map{}
	for _, k := range d.mirror.Keys(loggingPrefix) {
		keys[k], _ = d.mirror.Get(k)
	}
	lc, err := logsys.Parse(keys.Texts(loggingPrefix))
	if err == nil {
		err = d.logs.Apply(lc)
	}
	if err != nil {
		d.log.Error("logging configuration from cmap not applied", "error", err)
	}
}

// notifyReady tells systemd (Type=notify units) the daemon is ready: it
// is attached to totemd and its service completed a sync round. Later
// rounds change nothing; without NOTIFY_SOCKET it does nothing.
func (d *Daemon) notifyReady() {
	if d.ready {
		return
	}
	d.ready = true
	close(d.readyCh)
	if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
		d.log.Warn("systemd readiness not sent", "error", err)
	}
}
