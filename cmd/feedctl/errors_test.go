package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func badRequest(t *testing.T, violations ...[2]string) error {
	t.Helper()
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v[0], Description: v[1]})
	}
	st, err := status.New(codes.InvalidArgument, "invalid request: "+violations[0][0]).WithDetails(br)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestExitCode(t *testing.T) {
	call := func(code codes.Code) error {
		return &callError{service: "alerting", addr: "127.0.0.1:8084", err: status.Error(code, "x")}
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, exitOK},
		{"usage", usagef("bad flag"), exitUsage},
		{"usage wrapped", fmt.Errorf("submit: %w", usagef("bad flag")), exitUsage},
		{"not found", call(codes.NotFound), exitNotFound},
		{"invalid argument", call(codes.InvalidArgument), exitInvalid},
		{"an import with rejected lines", rejectedError{3}, exitInvalid},
		{"failed precondition", call(codes.FailedPrecondition), exitConflict},
		{"unauthenticated", call(codes.Unauthenticated), exitAuth},
		{"permission denied", call(codes.PermissionDenied), exitAuth},
		{"unavailable", call(codes.Unavailable), exitError},
		{"internal", call(codes.Internal), exitError},
		{"interrupted", fmt.Errorf("import: %w", context.Canceled), exitInterrupted},
		{"an interrupted import", interrupted("interrupted after line 7"), exitInterrupted},
		{"plain error", errors.New("disk full"), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestPrintError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{
			name: "every field violation",
			err: &callError{service: "intake", addr: "127.0.0.1:8081", err: badRequest(t,
				[2]string{"feedback.nps", "value must be greater than or equal to 0 and less than or equal to 10"},
				[2]string{"feedback.channel", "value is required"})},
			want: []string{
				"feedctl: InvalidArgument: invalid request: feedback.nps",
				"  feedback.nps: value must be greater than or equal to 0 and less than or equal to 10",
				"  feedback.channel: value is required",
			},
		},
		{
			name: "where to look when unreachable",
			err:  &callError{service: "scoring", addr: "10.0.0.1:8082", err: status.Error(codes.Unavailable, "connection refused")},
			want: []string{"feedctl: Unavailable: connection refused", "is the scoring service running at 10.0.0.1:8082?", "FEEDLOOP_SCORING_ADDR"},
		},
		{
			name: "a bad key",
			err:  &callError{service: "alerting", addr: "a:1", err: status.Error(codes.Unauthenticated, "invalid API key")},
			want: []string{"feedctl: Unauthenticated: invalid API key", "FEEDLOOP_API_KEY"},
		},
		{name: "not a call", err: usagef("--batch 0: want 1 to 500"), want: []string{"feedctl: --batch 0: want 1 to 500"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		printError(&b, tt.err)
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: printed\n%s\nwant %q", tt.name, b.String(), w)
			}
		}
	}
}

func TestCommandLineErrorsAreUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"alerts", "lst"}, "did you mean"},
		{[]string{"alerts", "get"}, "accepts 1 arg"},
		{[]string{"submit", "--nps", "3"}, `required flag(s) "channel", "customer" not set`},
		{[]string{"submit", "--nps", "ten", "--customer", "c", "--channel", "app"}, "invalid argument"},
		{[]string{"alerts", "list", "-o", "yaml"}, `--output "yaml"`},
		{[]string{"customer", "erase", "c-1"}, "--yes"},
		{[]string{"import", "--batch", "501", "x.jsonl"}, "want 1 to 500"},
		{[]string{"import", "notes.txt"}, "--format"},
		{[]string{"import", "--resume", "-"}, "standard input"},
		{[]string{"alerts", "resolve", "c", "--by", "o", "--root-cause", "x"}, "at least one recovery action"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, nil, &out, &errOut, func(string) string { return "" })
		if code != exitUsage || !strings.Contains(errOut.String(), tt.want) || !strings.Contains(errOut.String(), "--help' for usage") {
			t.Errorf("feedctl %v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), exitUsage, tt.want)
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"alerts", "--help"}, nil, &out, &out, func(string) string { return "" }); code != exitOK || !strings.Contains(out.String(), "watch") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
}
