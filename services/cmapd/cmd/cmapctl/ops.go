package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/client"
	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
)

// readValue reads key as the C tool's typed getters do: fixed-size types
// with one GET of the type's size, strings with a probe then a GET, binary
// values (only with -b) with a GET of the listed length. A stored type
// other than the listed one is CS_ERR_INVALID_PARAM.
func (t *tool) readValue(key string, length uint64, typ value.Type) (value.Value, cs.Error) {
	var v value.Value
	err := cs.OK
	for tries := 0; ; tries++ {
		v, err = t.readOnce(key, length, typ)
		if err != cs.ErrTryAgain || tries >= maxTryAgain {
			return v, err
		}
		time.Sleep(time.Second)
	}
}

func (t *tool) readOnce(key string, length uint64, typ value.Type) (value.Value, cs.Error) {
	switch {
	case typ == value.Binary:
		r, err := t.c.GetBuf(t.ctx, key, length)
		if err != nil {
			return value.Value{}, client.Code(err)
		}
		data := r.Value
		if data == nil {
			data = []byte{}
		}
		return value.Value{Type: typ, Data: data}, cs.OK
	case typ == value.String:
		p, err := t.c.GetBuf(t.ctx, key, 0)
		if err != nil {
			return value.Value{}, client.Code(err)
		}
		if p.Type != value.String {
			return value.Value{}, cs.ErrInvalidParam
		}
		r, err := t.c.GetBuf(t.ctx, key, p.Len)
		if err != nil {
			return value.Value{}, client.Code(err)
		}
		return value.Value{Type: typ, Data: r.Value}, cs.OK
	}
	r, err := t.c.GetBuf(t.ctx, key, uint64(typ.Size()))
	if err != nil {
		return value.Value{}, client.Code(err)
	}
	if r.Type != typ {
		return value.Value{}, cs.ErrInvalidParam
	}
	return value.Value{Type: typ, Data: r.Value}, cs.OK
}

// printKey is print_key for a key read from the daemon.
func (t *tool) printKey(key string, length uint64, typ value.Type) {
	v := value.Value{Type: typ}
	if typ.Name() != "" && (typ != value.Binary || t.fmt.Binary) {
		var err cs.Error
		if v, err = t.readValue(key, length, typ); err != cs.OK {
			t.out.Flush()
			io.WriteString(t.stderr, ctlfmt.GetValueError(key, err))
			return
		}
	}
	if t.json != nil {
		t.json.add(key, v, t.fmt.Binary)
		return
	}
	t.out.WriteString(ctlfmt.Line(key, v, t.fmt))
}

// printIter lists the keys under prefix; it returns 1 when there were none.
func (t *tool) printIter(prefix string) int {
	h, err := t.c.IterInit(t.ctx, prefix)
	if err != nil {
		t.out.Flush()
		io.WriteString(t.stderr, ctlfmt.IterError(client.Code(err)))
		t.out.Flush()
		os.Exit(1)
	}
	none := 1
	for {
		e, err := t.c.IterNext(t.ctx, h)
		if err != nil {
			break
		}
		none = 0
		t.printKey(e.Key, e.Len, e.Type)
	}
	_ = t.c.IterFinalize(t.ctx, h)
	return none
}

// deletePrefix deletes every key under prefix, reporting failures per key.
func (t *tool) deletePrefix(prefix string) int {
	h, err := t.c.IterInit(t.ctx, prefix)
	if err != nil {
		io.WriteString(t.stderr, ctlfmt.IterError(client.Code(err)))
		return 1
	}
	for {
		e, err := t.c.IterNext(t.ctx, h)
		if err != nil {
			break
		}
		if err := t.c.Delete(t.ctx, e.Key); err != nil {
			io.WriteString(t.stderr, ctlfmt.DeleteError(e.Key, client.Code(err)))
		}
	}
	_ = t.c.IterFinalize(t.ctx, h)
	return 0
}

// set is set_key: the tool's own checks, then one SET.
func (t *tool) set(key, typeName, text string) int {
	typ, data, msg := ctlfmt.ParseSet(typeName, text)
	if msg != "" {
		io.WriteString(t.stderr, msg)
		return 1
	}
	err := cs.OK
	if typ == value.Binary {
		contents, rerr := readInput(text, t.stdin)
		if rerr != nil {
			fmt.Fprintf(t.stderr, "Can't open input file: %s\n", coroconf.Strerror(rerr))
			return 1
		}
		data, err = ctlfmt.BinaryValue(contents)
	}
	if err == cs.OK {
		err = client.Code(t.c.Set(t.ctx, key, value.Value{Type: typ, Data: data}))
	}
	if err != cs.OK {
		io.WriteString(t.stderr, ctlfmt.SetError(key, err))
		return 1
	}
	return 0
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// load is read_in_config_file: "[^[^]]key[ type value]" lines, read in
// fgets chunks of 1023 bytes, '#' comments and blank lines skipped,
// fields split at spaces and newlines only.
func (t *tool) load(name string) int {
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintf(t.stderr, "Couldn't open file.: %s\n", coroconf.Strerror(err))
		return 0
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := fgets(r, 1023)
		if line == nil && err != nil {
			return 0
		}
		rest := bytes.TrimLeft(line, " \t")
		if len(rest) == 0 || rest[0] == '#' || rest[0] == '\n' {
			continue
		}
		fields := bytes.FieldsFunc(rest, func(c rune) bool { return c == ' ' || c == '\n' })
		if len(fields) == 0 {
			continue
		}
		key := string(fields[0])
		switch {
		case len(key) > 1 && key[0] == '^' && key[1] == '^':
			if c := t.deletePrefix(key[2:]); c != 0 {
				return c
			}
		case len(key) > 0 && key[0] == '^':
			if err := t.c.Delete(t.ctx, key[1:]); err != nil {
				io.WriteString(t.stderr, ctlfmt.DeleteError(key[1:], client.Code(err)))
			}
		default:
			if len(fields) < 3 {
				fmt.Fprintf(t.stderr, "Both type and value for key %s are required\n", key)
				return 1
			}
			if c := t.set(key, string(fields[1]), string(fields[2])); c != 0 {
				return c
			}
		}
	}
}

// fgets reads up to n bytes or through the next newline.
func fgets(r *bufio.Reader, n int) ([]byte, error) {
	var line []byte
	for len(line) < n {
		c, err := r.ReadByte()
		if err != nil {
			if len(line) == 0 {
				return nil, err
			}
			return line, nil
		}
		line = append(line, c)
		if c == '\n' {
			break
		}
	}
	return line, nil
}

// track prints tracker events until "q" or the end of standard input, or
// until the connection fails.
func (t *tool) track() {
	t.out.WriteString(ctlfmt.TrackBanner)
	t.out.Flush()
	quit := make(chan struct{})
	go func() {
		r := bufio.NewReader(t.stdin)
		for {
			line, err := fgets(r, 2)
			if err != nil || (len(line) > 0 && line[0] == 'q') {
				close(quit)
				return
			}
			if len(line) > 0 && line[len(line)-1] != '\n' {
				// fgets(inbuf, 3) leaves the rest of a long line for the
				// next call, which is what fgets(r, 2) did too.
				continue
			}
		}
	}()
	type evOrErr struct {
		line string
		err  error
	}
	evs := make(chan evOrErr, 64)
	go func() {
		for {
			n, err := t.c.ReadEvent(t.ctx)
			if err != nil {
				evs <- evOrErr{err: err}
				return
			}
			evs <- evOrErr{line: ctlfmt.Event(n.Event, n.Key, n.New, n.Old, t.fmt)}
		}
	}()
	for {
		select {
		case <-quit:
			return
		case e := <-evs:
			if e.err != nil {
				t.out.Flush()
				fmt.Fprintf(t.stderr, "Dispatch error %s\n", client.Code(e.err).Strerror())
				return
			}
			t.out.WriteString(e.line)
			t.out.Flush()
		}
	}
}
