package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/services/cmapd/client"
)

// The benchmarks measure what a cmap client sees: get and set round trips
// and the time from a set on one connection to the tracker event on
// another, for both libqb transports, against cmapd and (when installed)
// against Debian's corosync 3.1.7 with the same configuration.

type target struct {
	name  string
	start func(b *testing.B, ipc string)
}

func targets() []target {
	return []target{
		{"cmapd", startDaemonProcess},
		{"corosync", startCorosync},
	}
}

// daemonEnv makes the test binary run cmapd on the configuration file it
// names, as its own process, so the benchmarks measure it as clients
// meet it (and as they meet corosync).
const daemonEnv = "CMAPD_TEST_DAEMON"

func asDaemon(conf string) int {
	lc, err := logsys.Parse(map[string]string{"logging.to_stderr": "yes", "logging.to_syslog": "no"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logs, err := logsys.Open(lc, logsys.Options{Program: "cmapd"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logs.Close()
	d, err := New(Config{ConfPath: conf, BusPath: filepath.Join(filepath.Dir(conf), "bus.sock"), Logs: logs})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startDaemonProcess runs cmapd in a child process until the benchmark
// ends.
func startDaemonProcess(b *testing.B, ipc string) {
	inNamespaces(b)
	dir := b.TempDir()
	conf := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(testConf, "%IPC%", ipc)), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), daemonEnv+"="+conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
}

// startCorosync runs a one-node corosync in the test's namespaces (private
// /run for its pid file) until the benchmark ends.
func startCorosync(b *testing.B, ipc string) {
	inNamespaces(b)
	bin, err := exec.LookPath("corosync")
	if err != nil {
		b.Skip("corosync not installed")
	}
	dir := b.TempDir()
	conf := filepath.Join(dir, "corosync.conf")
	text := strings.ReplaceAll(testConf, "%IPC%", ipc)
	text = strings.Replace(text, "\tnode {\n\t\tring0_addr: 127.0.0.2\n\t\tnodeid: 2\n\t}\n", "", 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", "-c", conf)
	log, _ := os.Create(filepath.Join(dir, "corosync.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		log.Close()
	})
}

func benchTransports(b *testing.B, run func(b *testing.B, c *client.Client)) {
	for _, tg := range targets() {
		for _, ipc := range []string{"shm", "socket"} {
			b.Run(tg.name+"/"+ipc, func(b *testing.B) {
				tg.start(b, ipc)
				c := dial(b)
				ctx := context.Background()
				if err := c.Set(ctx, "bench.key", value.U32(1)); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				run(b, c)
			})
		}
	}
}

// BenchmarkGet is one GET round trip of a u32 (the size libcmap asks for).
func BenchmarkGet(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if _, err := c.GetBuf(ctx, "bench.key", 4); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	})
}

// BenchmarkSet is one SET round trip of a u32.
func BenchmarkSet(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			if err := c.Set(ctx, "bench.key", value.U32(uint32(i))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sets/s")
	})
}

// BenchmarkTrackLatency is the time from a SET on one connection to its
// MODIFY event on another that tracks the key.
func BenchmarkTrackLatency(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *client.Client) {
		b.StopTimer()
		ctx := context.Background()
		w := dial(b)
		if _, err := w.TrackAdd(ctx, "bench.key", client.TrackModify, 1); err != nil {
			b.Fatal(err)
		}
		var total time.Duration
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if err := c.Set(ctx, "bench.key", value.U32(uint32(i+2))); err != nil {
				b.Fatal(err)
			}
			ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := w.ReadEvent(ectx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/event")
	})
}
