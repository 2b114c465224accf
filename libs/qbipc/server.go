package qbipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Handler is a service's side of the connections of one Server.
//
// Calls for one connection are sequential: Connect, then Request for each
// request in arrival order, then Disconnect exactly once if Connect
// succeeded (also when the client vanished or was dropped). Calls for
// different connections run concurrently, each connection on its own
// goroutine; a Request may block (its client waits for the answer anyway).
type Handler interface {
	// Connect authorizes c (see c.Creds and Authorize) and creates its
	// service state before the client learns it is connected. A non-nil
	// error refuses the client; if it wraps a syscall.Errno the client sees
	// that errno (EACCES → CS_ERR_ACCESS, EAGAIN → CS_ERR_TRY_AGAIN),
	// otherwise EACCES.
	Connect(c *Conn) error
	// Request handles one request (msg includes its 16-byte header, whose
	// size field matches len(msg)). It returns the response to send, or nil
	// for none now (a request without response, or one answered later with
	// c.Respond). An error drops the connection.
	Request(c *Conn, msg []byte) ([]byte, error)
	// Disconnect releases c's service state. No Request follows it.
	Disconnect(c *Conn)
}

// Config configures one service's listener.
type Config struct {
	// Service is the libqb name, e.g. "cmap", "cfg", "cpg", "quorum", "votequorum".
	Service string
	// Transport offered to every client (SHM unless told otherwise).
	Transport Transport
	// MaxMsgSize caps the negotiated message size; 0 means 16 MiB. Clients
	// always get at least DefaultMaxMsgSize (libcpg relies on it).
	MaxMsgSize int
	// Dir holds the per-connection directories; "" means /dev/shm.
	Dir string
	// HandshakeTimeout bounds a client's connection request; 0 means 5 s.
	HandshakeTimeout time.Duration
	// EventQueueBytes bounds the events queued for one client (accounted
	// as in budget.go); an event that would pass it drops the client.
	// 0 means 32 MiB: two maximum-size messages, or some 100,000 cmap
	// notifications.
	EventQueueBytes int
	// EventBudget bounds the events queued for all clients together,
	// shared by every Server given the same budget; when an event does
	// not fit, the client holding the most is dropped (budget.go). nil
	// means a budget of its own of EventBudgetBytes.
	EventBudget *EventBudget
	// EventBudgetBytes sizes the Server's own budget when EventBudget is
	// nil; 0 means 128 MiB.
	EventBudgetBytes int
	// EventStallTimeout drops a client whose queued events made no progress
	// for this long; 0 means 60 s.
	EventStallTimeout time.Duration
	// Logger receives accept/refuse/drop decisions; nil discards them.
	Logger *slog.Logger
	// Inherited are setup sockets of this service that an earlier server
	// bound and a keeper held while it restarted (ipcproto's doc, "Keeping
	// the libqb listeners"): Listen serves on them instead of binding, so
	// the clients waiting in their backlog are accepted. Listen takes
	// ownership of the files.
	Inherited []*os.File
	// Adopt are connections a predecessor handed over (Server.Handover in
	// another process, Parked.Encode and DecodeParked between): Listen
	// takes them over with their IDs (new connections get IDs above them);
	// they are served from Serve on, without Handler.Connect (the handler
	// learns them from Server.Adopted before Serve). Listen takes
	// ownership of their files, whatever it returns. A connection whose
	// transport cannot be taken over (its client truncated a ring file, say)
	// is ended and logged, the others are served; a Listen that fails ends
	// them all.
	Adopt []*Parked

	// flagFile and socketDir override libqb's filesystem-socket switch (tests).
	flagFile, socketDir string
}

func (c *Config) setDefaults() error {
	if c.Service == "" {
		return errors.New("qbipc: Config.Service is empty")
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = 16 << 20
	}
	if c.MaxMsgSize < DefaultMaxMsgSize {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.Dir == "" {
		c.Dir = "/dev/shm"
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	if c.EventQueueBytes == 0 {
		c.EventQueueBytes = 32 << 20
	}
	if c.EventBudgetBytes == 0 {
		c.EventBudgetBytes = 128 << 20
	}
	if c.EventBudget == nil {
		c.EventBudget = NewEventBudget(c.EventBudgetBytes)
	}
	if c.EventStallTimeout == 0 {
		c.EventStallTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.flagFile == "" {
		c.flagFile = ForceFilesystemFlag
	}
	if c.socketDir == "" {
		c.socketDir = SocketDir
	}
	return nil
}

// Server serves one libqb service name.
type Server struct {
	cfg       Config
	h         Handler
	listeners []*net.UnixListener
	fsPath    string // filesystem socket to unlink on close, if any
	log       *slog.Logger
	// kept is set once Files handed the sockets to a keeper: they outlive
	// this server, so Close leaves fsPath in place.
	kept bool

	mu     sync.Mutex
	conns  map[uint64]*Conn
	nextID uint64
	closed bool // by Close or Handover: no connection registers any more
	wg     sync.WaitGroup

	// Pause and Handover (pause.go, handover.go).
	paused     bool
	accepting  int           // accept loops running
	handshakes int           // accepted connections whose handshake runs
	changed    chan struct{} // closed and replaced when either count drops
	ended      chan struct{} // closed by Close or Handover: Serve finishes
	adopted    []*Conn       // Config.Adopt, as taken over (adopt.go)
}

// Listen binds the service's setup socket: the padded abstract name, plus
// SocketDir/<service> when libqb's force-filesystem flag file exists. It
// fails if the name is taken (another daemon, or a real corosync, serves it).
func Listen(cfg Config, h Handler) (_ *Server, err error) {
	defer func() {
		if err != nil {
			for _, p := range cfg.Adopt {
				p.end() // nobody will serve them: the clients see the end
			}
		}
	}()
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, h: h, conns: map[uint64]*Conn{}, log: cfg.Logger.With("service", cfg.Service),
		changed: make(chan struct{}), ended: make(chan struct{})}
	if err := s.checkAdopt(cfg.Adopt); err != nil {
		for _, f := range cfg.Inherited {
			f.Close()
		}
		return nil, err
	}
	if len(cfg.Inherited) > 0 {
		err = s.inherit(cfg.Inherited)
	} else {
		err = s.bind()
	}
	if err != nil {
		return nil, err
	}
	s.adopt(cfg.Adopt)
	return s, nil
}

// bind creates the setup sockets.
func (s *Server) bind() error {
	cfg := s.cfg
	addr, err := abstractAddr(cfg.Service, "unix")
	if err != nil {
		return err
	}
	l, err := net.ListenUnix("unix", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on libqb service %q: name taken (is corosync or another daemon serving it?): %w", cfg.Service, err)
		}
		return fmt.Errorf("listen on libqb service %q: %w", cfg.Service, err)
	}
	s.listeners = append(s.listeners, l)
	if filesystemSockets(cfg.flagFile) {
		p := filepath.Join(cfg.socketDir, cfg.Service)
		os.Remove(p) // a stale socket of a dead server
		fl, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		if err != nil {
			l.Close()
			return fmt.Errorf("listen on libqb service %q at %s: %w", cfg.Service, p, err)
		}
		fl.SetUnlinkOnClose(false)
		if err := os.Chmod(p, 0o777); err != nil {
			l.Close()
			fl.Close()
			return fmt.Errorf("chmod %s: %w", p, err)
		}
		s.fsPath = p
		s.listeners = append(s.listeners, fl)
	}
	return nil
}

// inherit serves on setup sockets an earlier server bound: each must be a
// listening unix socket on this service's abstract name or its filesystem
// path. The earlier server must have stopped accepting: net.FileListener
// briefly puts the shared descriptor in blocking mode (os.File.Fd), and an
// Accept that enters the kernel then can no longer be interrupted by Close.
func (s *Server) inherit(files []*os.File) error {
	abs, err := abstractAddr(s.cfg.Service, "unix")
	if err != nil {
		return err
	}
	// Go reports an abstract address up to its first padding NUL.
	absName := strings.TrimRight(abs.Name, "\x00")
	fsPath := filepath.Join(s.cfg.socketDir, s.cfg.Service)
	// FileListener works on its own descriptor: every file is closed here,
	// whatever happens.
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	fail := func(err error) error {
		for _, l := range s.listeners {
			l.Close()
		}
		s.listeners = nil
		return err
	}
	for _, f := range files {
		l, err := net.FileListener(f)
		if err != nil {
			return fail(fmt.Errorf("inherited socket of libqb service %q: %w", s.cfg.Service, err))
		}
		ul, ok := l.(*net.UnixListener)
		at := l.Addr().String()
		if !ok || at != absName && at != fsPath {
			l.Close()
			return fail(fmt.Errorf("inherited socket listens on %q, not on libqb service %q", at, s.cfg.Service))
		}
		if at == fsPath {
			ul.SetUnlinkOnClose(false)
			s.fsPath = fsPath
		}
		s.listeners = append(s.listeners, ul)
	}
	return nil
}

// Files returns new descriptors of the setup sockets, for a keeper to hold
// while this server's daemon restarts (ipcproto's doc). From then on the
// sockets outlive the server: Close leaves the filesystem socket's path
// in place.
func (s *Server) Files() ([]*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*os.File
	for _, l := range s.listeners {
		f, err := l.File()
		if err != nil {
			for _, g := range out {
				g.Close()
			}
			return nil, fmt.Errorf("libqb service %q: descriptor of its setup socket: %w", s.cfg.Service, err)
		}
		out = append(out, f)
	}
	s.kept = true
	return out, nil
}

// Serve accepts clients until ctx ends or Close is called, then closes every
// connection (gracefully: clients see the hang-up at once) and returns once
// every Handler.Disconnect has run. It starts the adopted connections
// (Config.Adopt). On a paused server it returns once the server is handed
// over (Handover) or closed.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	s.mu.Lock()
	var ls []*net.UnixListener
	if !s.closed && !s.paused {
		ls = s.listeners
		s.accepting = len(ls)
	}
	if !s.closed {
		for _, c := range s.adopted {
			if !c.started {
				c.started = true
				c.start() // under s.mu: Handover waits for what has started
			}
		}
	}
	s.mu.Unlock()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func(l *net.UnixListener) {
			err := s.acceptLoop(l)
			s.count(&s.accepting, -1)
			errc <- err
		}(l)
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	if !paused {
		s.Close()
	}
	<-s.ended
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return first
}

// count adds d to one of the counts Pause waits for, telling waiters.
func (s *Server) count(n *int, d int) {
	s.mu.Lock()
	*n += d
	if d < 0 {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
}

func (s *Server) acceptLoop(l *net.UnixListener) error {
	for {
		uc, err := l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.log.Warn("accept failed, retrying", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept on %q: %w", s.cfg.Service, err)
		}
		s.count(&s.handshakes, 1) // before this loop can end: Pause waits for it
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.count(&s.handshakes, -1)
			s.handshake(uc)
		}()
	}
}

// Close stops accepting and closes every connection. Idempotent. On a
// paused server the clients are disconnected as usual.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ended)
	conns := make([]*Conn, 0, len(s.conns))
	var idle []*Conn // adopted, never started by Serve
	for _, c := range s.conns {
		if c.started {
			conns = append(conns, c)
		} else {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	s.closeListeners()
	for _, c := range conns {
		c.Close()
	}
	for _, c := range idle {
		c.Close()
		c.finish() // no request loop to run Disconnect
	}
	return nil
}

// closeListeners stops accepting. A filesystem socket's path goes too,
// unless the sockets were handed to a keeper (Files).
func (s *Server) closeListeners() {
	s.mu.Lock()
	kept := s.kept
	s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
	if s.fsPath != "" && !kept {
		os.Remove(s.fsPath)
	}
}

// EventBudget is the budget this Server's event queues draw on.
func (s *Server) EventBudget() *EventBudget { return s.cfg.EventBudget }

// Conns returns the connections currently open.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Conn returns the open connection with the given ID, or nil.
func (s *Server) Conn(id uint64) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// register adds a new connection, about to start, unless the server is
// closing. On a paused server it will not read requests.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c.id] = c
	c.started = true
	if s.paused {
		c.pause()
	}
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
}

func (s *Server) newID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}
