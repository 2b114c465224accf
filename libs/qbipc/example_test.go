package qbipc_test

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/needle-cluster/needle/libs/qbipc"
)

// pingService answers request id 0 with response id 0 carrying the same
// body, and lets in root plus uid 1000.
type pingService struct{}

func (pingService) Connect(c *qbipc.Conn) error {
	return qbipc.Authorize(c.Creds(), func(uid, gid uint32) bool { return uid == 1000 })
}

func (pingService) Request(c *qbipc.Conn, msg []byte) ([]byte, error) {
	h, err := qbipc.DecodeReqHeader(msg)
	if err != nil {
		return nil, err
	}
	if h.ID != 0 {
		return qbipc.NewResponse(0, 7 /* CS_ERR_INVALID_PARAM */, 0), nil
	}
	body := msg[qbipc.ReqHeaderSize:]
	resp := qbipc.NewResponse(0, 1 /* CS_OK */, len(body))
	copy(resp[qbipc.RespHeaderSize:], body)
	return resp, nil
}

func (pingService) Disconnect(*qbipc.Conn) {}

func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	name := fmt.Sprintf("example-ping-%d", os.Getpid())

	// Server: one per service name; SHM unless Config.Transport says Socket.
	srv, err := qbipc.Listen(qbipc.Config{Service: name}, pingService{})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	// Client: the server picks the transport.
	c, err := qbipc.Dial(ctx, name, qbipc.DialOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := qbipc.NewRequest(0, 4)
	copy(req[qbipc.ReqHeaderSize:], "ping")
	resp, err := c.Request(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := qbipc.DecodeRespHeader(resp)
	fmt.Printf("%v: id %d error %d body %q\n", c.Transport(), h.ID, h.Error, resp[qbipc.RespHeaderSize:])
	c.Close()

	cancel()
	<-done
	_, err = qbipc.Dial(context.Background(), name, qbipc.DialOptions{})
	fmt.Println(qbipc.Errno(err) == syscall.ECONNREFUSED)
	// Output:
	// shm: id 0 error 1 body "ping"
	// true
}
