package coroconf

import (
	"bytes"
	"strconv"
)

// Limits of Corosync's parser: fgets into a 512-byte buffer, key names
// below ICMAP_KEYNAME_MAXLEN (256) and fixed-size error buffers that turn
// over-long messages into a generic text.
const (
	lineBufSize       = 512
	keyNameBufSize    = 256
	parserErrBufSize  = 384
	callbackErrBufLen = 256
)

// handler receives the grammar events of one file. ctx is the section
// context of the current nesting level; sectionStart may change the copy
// handed to the new level.
type handler interface {
	sectionStart(path string, ctx *sectionCtx) error
	item(path, key, value string, ctx *sectionCtx) error
	sectionEnd(path string, ctx *sectionCtx) error
}

// lineReader hands out lines exactly as fgets with a 512-byte buffer does.
type lineReader struct {
	data []byte
	pos  int
}

// next returns the next fgets chunk and whether end of file was hit while
// reading it (feof); ok is false when nothing is left.
func (r *lineReader) next() (chunk []byte, eof, ok bool) {
	if r.pos >= len(r.data) {
		return nil, true, false
	}
	rest := r.data[r.pos:]
	n := len(rest)
	if n > lineBufSize-1 {
		n = lineBufSize - 1
	}
	if i := bytes.IndexByte(rest[:n], '\n'); i >= 0 {
		n = i + 1
	}
	chunk = rest[:n]
	r.pos += n
	eof = r.pos >= len(r.data) && chunk[len(chunk)-1] != '\n' && n < lineBufSize-1
	return chunk, eof, true
}

// parser walks one file's sections recursively, as Corosync's parse_section.
type parser struct {
	name   string
	lines  lineReader
	lineNo int
	h      handler
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// trimConf removes leading blanks and trailing blanks (and, for names,
// trailing ':' and '{'), never shortening a non-empty result below one
// character — Corosync's remove_whitespace.
func trimConf(s string, colonBrace bool) string {
	start := 0
	for start < len(s) && isBlank(s[start]) {
		start++
	}
	s = s[start:]
	if s == "" {
		return ""
	}
	end := len(s) - 1
	for end > 0 && (isBlank(s[end]) || (colonBrace && (s[end] == ':' || s[end] == '{'))) {
		end--
	}
	return s[:end+1]
}

// afterSep returns the index just past the first sep and the blanks after
// it (strchr_rs), or -1.
func afterSep(line string, sep byte) int {
	i := bytes.IndexByte([]byte(line), sep)
	if i < 0 {
		return -1
	}
	i++
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	return i
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fail formats a grammar error the way Corosync does, including its
// fallback when the message does not fit the error buffer.
func (p *parser) fail(msg string) error {
	full := "parser error: " + p.name + ":" + strconv.FormatUint(uint64(uint32(p.lineNo)), 10) + ": " + msg
	if len(full) >= parserErrBufSize {
		full = "Can't format parser error message"
	}
	return configError(full)
}

// callbackMsg applies the 256-byte limit of the callback's error buffer.
func callbackMsg(err error) string {
	msg := err.Error()
	if _, ok := err.(errString); ok && len(msg) >= callbackErrBufLen {
		return "Can't format parser error message"
	}
	return msg
}

// section parses lines until the closing brace of the section at path
// (depth > 0) or the end of the file (depth 0).
func (p *parser) section(path string, depth int, ctx sectionCtx) error {
	for {
		chunk, eof, ok := p.lines.next()
		if !ok {
			break
		}
		p.lineNo++
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			chunk = chunk[:i]
		}
		line := string(chunk)
		if len(line) > 0 {
			if line[len(line)-1] != '\n' && !eof {
				return p.fail("Line too long")
			}
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		}
		for len(line) > 0 && isBlank(line[len(line)-1]) {
			line = line[:len(line)-1]
		}
		first := 0
		for first < len(line) && isBlank(line[first]) {
			first++
		}
		if first == len(line) || line[first] == '#' {
			continue
		}

		if loc := afterSep(line, '{'); loc >= 0 {
			name := trimConf(line[:loc-1], true)
			after := trimConf(line[loc:], false)
			if name == "" {
				return p.fail("Missing section name before opening bracket '{'")
			}
			if after != "" {
				return p.fail("Extra characters after opening bracket '{'")
			}
			if len(path)+len(name)+1 >= keyNameBufSize {
				return p.fail("Start of section makes total cmap path too long")
			}
			newPath := joinPath(path, name)
			newCtx := ctx
			if err := p.h.sectionStart(newPath, &newCtx); err != nil {
				return p.fail(callbackMsg(err))
			}
			if err := p.section(newPath, depth+1, newCtx); err != nil {
				return err
			}
			continue
		}

		if loc := afterSep(line, ':'); loc >= 0 {
			key := trimConf(line[:loc-1], true)
			value := trimConf(line[loc:], false)
			if len(path)+len(key)+1 >= keyNameBufSize {
				return p.fail("New key makes total cmap path too long")
			}
			if err := p.h.item(joinPath(path, key), key, value, &ctx); err != nil {
				return p.fail(callbackMsg(err))
			}
			continue
		}

		if bytes.IndexByte([]byte(line), '}') >= 0 {
			if trimConf(line, false) != "}" {
				return p.fail("Extra characters before or after closing bracket '}'")
			}
			if depth == 0 {
				return p.fail("Unexpected closing brace")
			}
			if err := p.h.sectionEnd(path, &ctx); err != nil {
				return p.fail(callbackMsg(err))
			}
			return nil
		}

		return p.fail("Line is not opening or closing section or key value")
	}
	if path != "" {
		return p.fail("Missing closing brace")
	}
	return nil
}

// parseFile runs the grammar over data, reporting errors against name.
func parseFile(name string, data []byte, h handler) error {
	p := &parser{name: name, lines: lineReader{data: data}, h: h}
	return p.section("", 0, ctxNormal)
}
