package cfg

import "fmt"

// CSError is a cs_error_t: the status every cfg response carries
// (spec/client-api.md §3). OK (1) is success.
type CSError int32

// The cs_error_t values of corosync 3.1.7 (corotypes.h).
const (
	OK                   CSError = 1
	ErrLibrary           CSError = 2
	ErrVersion           CSError = 3
	ErrInit              CSError = 4
	ErrTimeout           CSError = 5
	ErrTryAgain          CSError = 6
	ErrInvalidParam      CSError = 7
	ErrNoMemory          CSError = 8
	ErrBadHandle         CSError = 9
	ErrBusy              CSError = 10
	ErrAccess            CSError = 11
	ErrNotExist          CSError = 12
	ErrNameTooLong       CSError = 13
	ErrExist             CSError = 14
	ErrNoSpace           CSError = 15
	ErrInterrupt         CSError = 16
	ErrNameNotFound      CSError = 17
	ErrNoResources       CSError = 18
	ErrNotSupported      CSError = 19
	ErrBadOperation      CSError = 20
	ErrFailedOperation   CSError = 21
	ErrMessageError      CSError = 22
	ErrQueueFull         CSError = 23
	ErrQueueNotAvailable CSError = 24
	ErrBadFlags          CSError = 25
	ErrTooBig            CSError = 26
	ErrNoSections        CSError = 27
	ErrContextNotFound   CSError = 28
	ErrTooManyGroups     CSError = 30
	ErrSecurity          CSError = 100
)

// csNames are the symbolic names cs_strerror prints.
var csNames = map[CSError]string{
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

// Strerror renders the code as corosync's cs_strerror does (the tools
// print it): "success" for OK, the symbolic name, or "unknown error".
func (e CSError) Strerror() string {
	if e == OK {
		return "success"
	}
	if n, ok := csNames[e]; ok {
		return n
	}
	return "unknown error"
}

// Error makes a non-OK status usable as a Go error; errors.As recovers the code.
func (e CSError) Error() string { return fmt.Sprintf("%s (%d)", e.Strerror(), int32(e)) }
