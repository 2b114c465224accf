// Package cs holds Corosync's cs_error_t codes (corotypes.h), the one
// status type every service, client library and the daemon bus share, so
// a code reaches libqb clients unchanged (spec/client-api.md §3).
package cs

import "strconv"

// Error is a cs_error_t. OK (1) is success; every other value is an error
// code clients see unchanged.
type Error int32

// The cs_error_t values of corosync 3.1.7 (corotypes.h).
const (
	OK                   Error = 1
	ErrLibrary           Error = 2
	ErrVersion           Error = 3
	ErrInit              Error = 4
	ErrTimeout           Error = 5
	ErrTryAgain          Error = 6
	ErrInvalidParam      Error = 7
	ErrNoMemory          Error = 8
	ErrBadHandle         Error = 9
	ErrBusy              Error = 10
	ErrAccess            Error = 11
	ErrNotExist          Error = 12
	ErrNameTooLong       Error = 13
	ErrExist             Error = 14
	ErrNoSpace           Error = 15
	ErrInterrupt         Error = 16
	ErrNameNotFound      Error = 17
	ErrNoResources       Error = 18
	ErrNotSupported      Error = 19
	ErrBadOperation      Error = 20
	ErrFailedOperation   Error = 21
	ErrMessageError      Error = 22
	ErrQueueFull         Error = 23
	ErrQueueNotAvailable Error = 24
	ErrBadFlags          Error = 25
	ErrTooBig            Error = 26
	ErrNoSections        Error = 27
	ErrContextNotFound   Error = 28
	ErrTooManyGroups     Error = 30
	ErrSecurity          Error = 100
)

var names = map[Error]string{
	ErrLibrary:           "CS_ERR_LIBRARY",
	ErrVersion:           "CS_ERR_VERSION",
	ErrInit:              "CS_ERR_INIT",
	ErrTimeout:           "CS_ERR_TIMEOUT",
	ErrTryAgain:          "CS_ERR_TRY_AGAIN",
	ErrInvalidParam:      "CS_ERR_INVALID_PARAM",
	ErrNoMemory:          "CS_ERR_NO_MEMORY",
	ErrBadHandle:         "CS_ERR_BAD_HANDLE",
	ErrBusy:              "CS_ERR_BUSY",
	ErrAccess:            "CS_ERR_ACCESS",
	ErrNotExist:          "CS_ERR_NOT_EXIST",
	ErrNameTooLong:       "CS_ERR_NAME_TOO_LONG",
	ErrExist:             "CS_ERR_EXIST",
	ErrNoSpace:           "CS_ERR_NO_SPACE",
	ErrInterrupt:         "CS_ERR_INTERRUPT",
	ErrNameNotFound:      "CS_ERR_NAME_NOT_FOUND",
	ErrNoResources:       "CS_ERR_NO_RESOURCES",
	ErrNotSupported:      "CS_ERR_NOT_SUPPORTED",
	ErrBadOperation:      "CS_ERR_BAD_OPERATION",
	ErrFailedOperation:   "CS_ERR_FAILED_OPERATION",
	ErrMessageError:      "CS_ERR_MESSAGE_ERROR",
	ErrQueueFull:         "CS_ERR_QUEUE_FULL",
	ErrQueueNotAvailable: "CS_ERR_QUEUE_NOT_AVAILABLE",
	ErrBadFlags:          "CS_ERR_BAD_FLAGS",
	ErrTooBig:            "CS_ERR_TOO_BIG",
	ErrNoSections:        "CS_ERR_NO_SECTIONS",
	ErrContextNotFound:   "CS_ERR_CONTEXT_NOT_FOUND",
	ErrTooManyGroups:     "CS_ERR_TOO_MANY_GROUPS",
	ErrSecurity:          "CS_ERR_SECURITY",
}

// Strerror renders the code as corosync's cs_strerror does, which the
// tools print in their messages: "success" for OK, the symbolic name for
// known errors, "unknown error" otherwise.
func (e Error) Strerror() string {
	if e == OK {
		return "success"
	}
	if n, ok := names[e]; ok {
		return n
	}
	return "unknown error"
}

// Error implements error; it names the code and its number.
func (e Error) Error() string {
	if e == OK {
		return "CS_OK"
	}
	if n, ok := names[e]; ok {
		return n
	}
	return "cs_error(" + strconv.Itoa(int(e)) + ")"
}

// Err returns nil for OK and e otherwise, for callers that want a Go error.
func (e Error) Err() error {
	if e == OK {
		return nil
	}
	return e
}
