package vqsimtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// tailLines hands each whole line written to path since *off to each
// (without its newline) and moves *off past it; a partial line at the end
// stays for the next call (strace and vqlog.c write a line at a time).
// what names the file in errors. A file not there yet has no lines when
// missingOK.
func tailLines(path string, off *int64, what string, missingOK bool, each func(line string) error) error {
	f, err := os.Open(path)
	if missingOK && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if _, err := f.Seek(*off, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		*off += int64(len(line))
		if err := each(strings.TrimSuffix(line, "\n")); err != nil {
			return fmt.Errorf("%s line %q: %w", what, strings.TrimSpace(line), err)
		}
	}
}
