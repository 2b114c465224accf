package cmapread

import (
	"encoding/binary"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

var le = binary.LittleEndian

// cmap request ids and value types used here (spec/client-api.md §5).
const (
	reqGet          = 2
	reqIterInit     = 4
	reqIterNext     = 5
	reqIterFinalize = 6

	respGet      = 2
	respIterInit = 4
	respIterNext = 5

	typeUint32 = 6
	typeString = 11

	nameSize     = 264 // mar_name_t: u16 length @0, value[256] @8
	keyMaxLen    = 255
	getRespFixed = 40  // value_len@24, type@32, value@40
	iterInitSize = 32  // iter_handle@24
	iterNextSize = 304 // key mar_name_t@24, value_len@288, type@296
	typedBuf     = 16  // libcmap's typed getters read into 16 bytes
)

// putName writes a mar_name_t at b.
func putName(b []byte, s string) error {
	if len(s) > keyMaxLen {
		return fmt.Errorf("cmap key %q: %w", s, cs.ErrNameTooLong)
	}
	le.PutUint16(b, uint16(len(s)))
	copy(b[8:8+256], s)
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// encodeGet is a GET request (288 bytes) with the caller's buffer size.
func encodeGet(key string, bufLen int) ([]byte, error) {
	msg := qbipc.NewRequest(reqGet, nameSize+8)
	if err := putName(msg[16:], key); err != nil {
		return nil, err
	}
	le.PutUint64(msg[16+nameSize:], uint64(bufLen))
	return msg, nil
}

func encodeIterInit(prefix string) ([]byte, error) {
	msg := qbipc.NewRequest(reqIterInit, nameSize)
	if err := putName(msg[16:], prefix); err != nil {
		return nil, err
	}
	return msg, nil
}

// encodeIterHandle is ITER_NEXT or ITER_FINALIZE (24 bytes).
func encodeIterHandle(id int32, handle uint64) []byte {
	msg := qbipc.NewRequest(id, 8)
	le.PutUint64(msg[16:], handle)
	return msg
}

// status checks a response: a cs.Error for a daemon error, another
// error for a malformed message.
func status(b []byte, want int32, size int) error {
	if len(b) < qbipc.RespHeaderSize {
		return fmt.Errorf("cmap response of %d bytes", len(b))
	}
	id, code := int32(le.Uint32(b)), cs.Error(le.Uint32(b[16:]))
	if code != cs.OK {
		return code
	}
	if id != want || len(b) < size {
		return fmt.Errorf("cmap response id %d of %d bytes, want id %d of %d", id, len(b), want, size)
	}
	return nil
}

// getResult is a decoded GET response.
type getResult struct {
	value  []byte // the bytes received, at most the stored length
	stored uint64 // the stored value's length
	typ    uint8
}

func decodeGet(b []byte) (getResult, error) {
	if err := status(b, respGet, getRespFixed); err != nil {
		return getResult{}, err
	}
	r := getResult{stored: le.Uint64(b[24:]), typ: b[32], value: b[getRespFixed:]}
	if r.stored < uint64(len(r.value)) {
		r.value = r.value[:r.stored]
	}
	return r, nil
}

func decodeIterInit(b []byte) (uint64, error) {
	if err := status(b, respIterInit, iterInitSize); err != nil {
		return 0, err
	}
	return le.Uint64(b[24:]), nil
}

// decodeIterNext returns the next key; cs.ErrNoSections ends the listing.
func decodeIterNext(b []byte) (string, error) {
	if err := status(b, respIterNext, iterNextSize); err != nil {
		return "", err
	}
	n := min(int(le.Uint16(b[24:])), 256)
	return cString(b[32 : 32+n]), nil
}
