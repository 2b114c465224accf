package qbipc

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestInheritedSocketKeepsWaitingClients is a service daemon's restart
// with its setup socket kept (ipcproto's keeper): a client that connects
// while no server runs waits in the backlog instead of being refused, and
// the next server, listening on the inherited socket, accepts it.
func TestInheritedSocketKeepsWaitingClients(t *testing.T) {
	first := startServer(t, SHM, newEchoHandler(), nil)
	files, err := first.Files()
	if err != nil {
		t.Fatal(err)
	}
	first.stop(t)

	dialed := make(chan error, 1)
	var c *Client
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		c, err = Dial(ctx, first.service, DialOptions{})
		dialed <- err
	}()
	select {
	case err := <-dialed:
		t.Fatalf("Dial returned with no server running (%v); want it to wait", err)
	case <-time.After(300 * time.Millisecond):
	}

	second := startServer(t, SHM, newEchoHandler(), func(cfg *Config) {
		cfg.Service, cfg.Inherited = first.service, files
	})
	if err := <-dialed; err != nil {
		t.Fatalf("Dial while the socket was kept: %v", err)
	}
	defer c.Close()
	resp, err := c.Request(testCtx(t), echoReq([]byte("after the restart")))
	if err != nil || !strings.Contains(string(resp), "after the restart") {
		t.Fatalf("request to the new server: %q %v", resp, err)
	}
	second.stop(t)
}

// TestInheritRefusesAnotherServicesSocket: a socket that listens on some
// other name is refused, naming it. The server that bound it stops first,
// as a daemon does before its successor inherits (see Server.inherit).
func TestInheritRefusesAnotherServicesSocket(t *testing.T) {
	other := startServer(t, SHM, newEchoHandler(), nil)
	files, err := other.Files()
	if err != nil {
		t.Fatal(err)
	}
	other.stop(t)
	_, err = Listen(Config{Service: testService(), Inherited: files}, newEchoHandler())
	if err == nil || !strings.Contains(err.Error(), other.service) {
		t.Fatalf("Listen on %s's socket: %v", other.service, err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = Listen(Config{Service: testService(), Inherited: []*os.File{f}}, newEchoHandler()); err == nil {
		t.Fatal("Listen on /dev/null accepted")
	}
	if errors.Is(err, os.ErrClosed) {
		t.Fatal(err)
	}
}
