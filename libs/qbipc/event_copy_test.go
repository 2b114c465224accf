package qbipc

import (
	"testing"
)

// TestSendEventCopyReusesBuffer: a caller reusing one buffer for every
// event (SendEventCopy) gets every event to the client intact and in
// order, whether it went straight into the client's channel or waited in
// the queue (several rings' worth, while the client reads concurrently),
// and the accounting returns to zero.
func TestSendEventCopyReusesBuffer(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			ctx := testCtx(t)
			conn := ts.Conns()[0]
			const n, size = 4000, 3000
			errc := make(chan error, 1)
			go func() {
				buf := NewResponse(eventID, 1, size)
				for i := 0; i < n; i++ {
					for j := RespHeaderSize; j < len(buf); j += 4 {
						le.PutUint32(buf[j:], uint32(i))
					}
					if err := conn.SendEventCopy(buf); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := 0; i < n; i++ {
				ev, err := c.ReadEvent(ctx)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if len(ev) != RespHeaderSize+size {
					t.Fatalf("event %d: %d bytes", i, len(ev))
				}
				for j := RespHeaderSize; j+4 <= len(ev); j += 4 {
					if got := le.Uint32(ev[j:]); got != uint32(i) {
						t.Fatalf("event %d: word at %d is %d", i, j, got)
					}
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			st := conn.Stats()
			if st.Events != n || st.EventsQueued != 0 || st.EventsQueuedBytes != 0 {
				t.Fatalf("stats after all events: %+v", st)
			}
			if used := ts.cfg.EventBudget.Used(); used != 0 {
				t.Fatalf("event budget still holds %d bytes", used)
			}
		})
	}
}
