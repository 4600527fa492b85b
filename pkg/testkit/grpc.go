package testkit

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FieldViolations checks that err is INVALID_ARGUMENT with a
// google.rpc.BadRequest detail and returns its violations, field → description.
func FieldViolations(tb testing.TB, err error) map[string]string {
	tb.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		tb.Fatalf("code = %v (%v), want InvalidArgument", st.Code(), err)
	}
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out[v.Field] = v.Description
			}
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no BadRequest field violations in %v", st)
	}
	return out
}

// WithKey is a client context that calls with API key key
// ("authorization: Bearer <key>").
func WithKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}
