package svchost

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// keeperTimeout bounds the exchange that fetches the held sockets at
// start-up: a daemon that cannot reach totemd binds its own and hands
// them over later.
const keeperTimeout = 2 * time.Second

// Why keep listeners at all: ipcproto's doc, "Keeping the libqb
// listeners". A daemon's libqb setup sockets outlive it in totemd, so a
// client that connects while the daemon restarts waits for it instead of
// failing (Pacemaker's daemons give up for good on a refused connection).

// fetchKept opens the daemon's keeper connection and takes the sockets
// totemd holds for names (from the daemon's previous run). The
// connection is nil when totemd cannot be reached.
func fetchKept(busPath string, names []string) (*ipcproto.Conn, map[string][]*os.File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keeperTimeout)
	defer cancel()
	conn, err := ipcproto.Dial(ctx, busPath)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(keeperTimeout))
	kept, err := func() (map[string][]*os.File, error) {
		if err := conn.Send(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: names}); err != nil {
			return nil, err
		}
		m, files, err := conn.RecvFiles()
		if err != nil {
			return nil, err
		}
		if m.Kind == ipcproto.KindError {
			closeFiles(files)
			return nil, fmt.Errorf("totemd: %s", m.Text)
		}
		if m.Kind != ipcproto.KindKept || len(m.Names) != len(files) {
			closeFiles(files)
			return nil, fmt.Errorf("keeper: want %s with one socket per name, got %s with %d names and %d sockets",
				ipcproto.KindKept, m.Kind, len(m.Names), len(files))
		}
		out := map[string][]*os.File{}
		for i, n := range m.Names {
			out[n] = append(out[n], files[i])
		}
		return out, nil
	}()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, kept, nil
}

// holdListeners gives totemd the sockets of the endpoints in fresh (those
// the daemon bound itself) on its keeper connection.
func holdListeners(conn *ipcproto.Conn, eps []*Endpoint, fresh []string) error {
	var names []string
	var files []*os.File
	defer func() { closeFiles(files) }() // totemd got its own descriptors
	for _, e := range eps {
		if !slices.Contains(fresh, e.cfg.Service) {
			continue
		}
		fs, err := e.srv.Files()
		if err != nil {
			return err
		}
		for _, f := range fs {
			names, files = append(names, e.cfg.Service), append(files, f)
		}
	}
	return conn.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: names}, files)
}

// keepListeners keeps the daemon's sockets held by totemd until ctx ends:
// conn is the keeper connection opened at start-up (nil if totemd was
// not reachable) and fresh the endpoints whose sockets totemd does not
// hold yet. When the connection is lost (totemd went away, and with it
// what it held) or was never made, it tries again at the daemon's next
// attach to totemd (a signal on attached), handing every socket over; a
// totemd that refuses is not asked again before the next attach.
func keepListeners(ctx context.Context, busPath string, conn *ipcproto.Conn, eps []*Endpoint, fresh []string, attached <-chan struct{}, log hclog.Logger) {
	var names []string
	for _, e := range eps {
		names = append(names, e.cfg.Service)
	}
	for {
		if conn != nil {
			err := holdListeners(conn, eps, fresh)
			if err == nil {
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				_, err = conn.Recv() // nothing comes: this waits for the end
				stop()
			}
			conn.Close()
			if ctx.Err() != nil {
				return
			}
			log.Debug("keeper connection to totemd lost; the libqb sockets are handed over again at the next attach", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-attached:
		}
		c, kept, err := fetchKept(busPath, names)
		if err != nil {
			log.Debug("totemd does not keep the libqb sockets", "error", err)
			conn = nil
			continue
		}
		for n, fs := range kept { // we serve on our own sockets: these are stale
			log.Warn("totemd held other libqb sockets for a name this daemon serves; closed them", "name", n)
			closeFiles(fs)
		}
		conn, fresh = c, names
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
