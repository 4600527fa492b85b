package grpcx

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FieldViolation names a field (a path like "feedback.comment.text" or
// "items[2].nps") and what is wrong with it.
type FieldViolation = errdetails.BadRequest_FieldViolation

// Validator checks messages against their protovalidate rules, and every
// string for valid UTF-8 first (protos that turn off the decoder's UTF-8
// check rely on this).
type Validator struct{ pv protovalidate.Validator }

// NewValidator builds a validator; rules compile lazily, once per message
// type.
func NewValidator() (*Validator, error) {
	pv, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("protovalidate: %w", err)
	}
	return &Validator{pv: pv}, nil
}

// Violations returns every problem with msg, each naming its field under
// prefix ("" for a top-level message, "items[3]" for a batch item).
func (v *Validator) Violations(msg proto.Message, prefix string) []*FieldViolation {
	if bad := invalidUTF8(msg.ProtoReflect(), prefix, nil); len(bad) > 0 {
		return bad
	}
	err := v.pv.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return []*FieldViolation{{Field: prefix, Description: err.Error()}}
	}
	out := make([]*FieldViolation, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		out = append(out, &FieldViolation{
			Field:       FieldPath(prefix, protovalidate.FieldPathString(viol.Proto.GetField())),
			Description: viol.Proto.GetMessage(),
			Reason:      viol.Proto.GetRuleId(),
		})
	}
	return out
}

// InvalidArgument returns the status for a request with these violations:
// INVALID_ARGUMENT with a google.rpc.BadRequest detail listing them all.
func InvalidArgument(violations []*FieldViolation) *status.Status {
	msg := "invalid request"
	if len(violations) > 0 {
		msg = fmt.Sprintf("invalid request: %s: %s", orMessage(violations[0].Field), violations[0].Description)
		if len(violations) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(violations)-1)
		}
	}
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{FieldViolations: violations})
	if err != nil {
		return status.New(codes.InvalidArgument, msg)
	}
	return st
}

func orMessage(field string) string {
	if field == "" {
		return "message"
	}
	return field
}

// FieldPath names field inside the message at prefix, in protovalidate's
// notation: "feedback" + "comment.text" = "feedback.comment.text".
func FieldPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// invalidUTF8 walks every set field and reports strings that are not UTF-8.
func invalidUTF8(m protoreflect.Message, prefix string, out []*FieldViolation) []*FieldViolation {
	const desc = "must be valid UTF-8"
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		path := FieldPath(prefix, fd.TextName())
		switch {
		case fd.IsMap():
			val.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if fd.MapKey().Kind() == protoreflect.StringKind && !utf8.ValidString(key) {
					out = append(out, &FieldViolation{Field: path, Reason: "utf8", Description: "keys " + desc})
					return true
				}
				elem := path + "[" + strconv.Quote(key) + "]"
				out = checkValue(fd.MapValue(), mv, elem, out)
				return true
			})
		case fd.IsList():
			l := val.List()
			for i := range l.Len() {
				out = checkValue(fd, l.Get(i), path+"["+strconv.Itoa(i)+"]", out)
			}
		default:
			out = checkValue(fd, val, path, out)
		}
		return true
	})
	return out
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, out []*FieldViolation) []*FieldViolation {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			out = append(out, &FieldViolation{Field: path, Reason: "utf8", Description: "must be valid UTF-8"})
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		out = invalidUTF8(v.Message(), path, out)
	}
	return out
}
