package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes. Scripts can tell "fix your input" (2, 4) from "not there" (3),
// "not now" (5) and "retry later" (1).
const (
	exitOK          = 0
	exitError       = 1   // anything else: the service unreachable, an internal error
	exitUsage       = 2   // bad command line: unknown command or flag, a value that does not parse
	exitNotFound    = 3   // the customer or case does not exist
	exitInvalid     = 4   // the service rejected the input (InvalidArgument), or an import had rejected lines
	exitConflict    = 5   // the move is not allowed in the current state (FailedPrecondition, e.g. acknowledging twice)
	exitAuth        = 6   // the API key is missing, wrong or not allowed
	exitInterrupted = 130 // Ctrl-C stopped an import; it can be resumed
)

// usageError is a mistake on the command line, found before any call.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// rejectedError says an import finished but the service rejected some lines.
type rejectedError struct{ n int }

func (e rejectedError) Error() string {
	if e.n == 1 {
		return "1 line was rejected"
	}
	return fmt.Sprintf("%d lines were rejected", e.n)
}

// interrupted is Ctrl-C, with what the user can do about it.
type interrupted string

func (e interrupted) Error() string { return string(e) }
func (e interrupted) Unwrap() error { return context.Canceled }

// callError is a failed call with the service and address it went to, so
// the message can say where to look.
type callError struct {
	service, addr string
	err           error
}

func (e *callError) Error() string { return fmt.Sprintf("%s at %s: %v", e.service, e.addr, e.err) }
func (e *callError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	var re rejectedError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &re):
		return exitInvalid
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	st, ok := status.FromError(err)
	if !ok {
		return exitError
	}
	switch st.Code() {
	case codes.NotFound:
		return exitNotFound
	case codes.InvalidArgument, codes.OutOfRange:
		return exitInvalid
	case codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		return exitConflict
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitAuth
	case codes.Canceled:
		return exitInterrupted
	}
	return exitError
}

// violations returns the field violations of a status's google.rpc.BadRequest
// details.
func violations(st *status.Status) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

// printError writes err for a person: one line, then every field violation
// of an InvalidArgument, and a hint where one helps.
func printError(w io.Writer, err error) {
	var ce *callError
	st, isStatus := status.FromError(err)
	if !errors.As(err, &ce) || !isStatus {
		fmt.Fprintf(w, "feedctl: %v\n", err)
		return
	}
	inner := status.Convert(ce.err)
	fmt.Fprintf(w, "feedctl: %s: %s\n", st.Code(), inner.Message())
	for _, v := range violations(inner) {
		field := v.GetField()
		if field == "" {
			field = "(request)"
		}
		fmt.Fprintf(w, "  %s: %s\n", field, v.GetDescription())
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		fmt.Fprintf(w, "  is the %s service running at %s? Set its address with --%s-addr, --host or FEEDLOOP_%s_ADDR.\n",
			ce.service, ce.addr, ce.service, strings.ToUpper(ce.service))
	case codes.Unauthenticated:
		fmt.Fprintln(w, "  set the API key with --api-key or FEEDLOOP_API_KEY.")
	}
}
