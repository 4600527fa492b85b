package admit

import (
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
)

// Validator checks intake requests against the rules written in
// intake.proto, plus the event-time policy.
//
// The proto's protovalidate annotations are the contract; this is a
// hand-written implementation of them because the generic validator costs
// several microseconds per event and the budget for validating and encoding an
// event is 5 µs. FuzzValidatorMatchesProtovalidate holds it to the proto:
// for any message both must report the same fields and rules. Change both
// together.
type Validator struct {
	Policy Policy
	// Now is the clock event times are checked against.
	Now func() time.Time
	// Fallback validates request types intake does not know (none today).
	Fallback *grpcx.Validator
}

// Violations implements the server's request validation for intake.
func (v Validator) Violations(req proto.Message) []*grpcx.FieldViolation {
	switch r := req.(type) {
	case *intakev1.SubmitFeedbackRequest:
		if r.Feedback == nil {
			return []*grpcx.FieldViolation{required("feedback")}
		}
		return Under("feedback", v.Feedback(r.Feedback, v.Now()))
	case *intakev1.SubmitFeedbackBatchRequest:
		return batchSize(len(r.Items))
	case *intakev1.RecordActivityBatchRequest:
		return batchSize(len(r.Items))
	case *intakev1.RecordActivityRequest:
		if r.Activity == nil {
			return []*grpcx.FieldViolation{required("activity")}
		}
		return Under("activity", v.Activity(r.Activity, v.Now()))
	}
	return v.Fallback.Violations(req, "")
}

// batchSize checks a batch's size; its items are validated one by one by
// the handler, so that one bad item does not fail the others.
func batchSize(n int) []*grpcx.FieldViolation {
	switch {
	case n < 1:
		return []*grpcx.FieldViolation{{Field: "items", Reason: "repeated.min_items", Description: "must contain at least 1 item"}}
	case n > 500:
		return []*grpcx.FieldViolation{{Field: "items", Reason: "repeated.max_items", Description: "must contain no more than 500 items"}}
	}
	return nil
}

// Under moves violations of a message's fields under the message's own path
// in a request ("feedback", "items[3]"). Paths are built only for violations:
// the valid path costs nothing.
func Under(prefix string, vs []*grpcx.FieldViolation) []*grpcx.FieldViolation {
	for _, v := range vs {
		v.Field = grpcx.FieldPath(prefix, v.Field)
	}
	return vs
}

// Feedback returns every problem with fb, naming its fields ("comment.text").
func (v Validator) Feedback(fb *intakev1.Feedback, now time.Time) []*grpcx.FieldViolation {
	var c checker
	c.utf8(fb.EventId, "event_id")
	c.utf8(fb.CustomerId, "customer_id")
	c.utf8(fb.Touchpoint, "touchpoint")
	if fb.Comment != nil {
		c.utf8(fb.Comment.Text, "comment.text")
		c.utf8(fb.Comment.Language, "comment.language")
	}
	if fb.Complaint != nil {
		c.utf8(fb.Complaint.Description, "complaint.description")
	}
	if fb.Order != nil {
		c.utf8(fb.Order.OrderId, "order.order_id")
		if fb.Order.Amount != nil {
			c.utf8(fb.Order.Amount.Currency, "order.amount.currency")
		}
	}
	c.utf8Map(fb.Attributes, "attributes")
	if len(c.out) > 0 {
		return c.out // the other rules assume valid strings
	}

	c.eventID(fb.EventId)
	c.customerID(fb.CustomerId)
	c.channel(fb.Channel)
	c.maxLen(fb.Touchpoint, 64, "touchpoint")
	if fb.Nps != nil {
		c.between(*fb.Nps, 0, 10, "nps")
	}
	if fb.Csat != nil {
		c.between(*fb.Csat, 1, 5, "csat")
	}
	if fb.Ces != nil {
		c.between(*fb.Ces, 1, 7, "ces")
	}
	if sq := fb.Servqual; sq != nil {
		if sq.Reliability == nil && sq.Responsiveness == nil && sq.Assurance == nil && sq.Empathy == nil && sq.Tangibles == nil {
			c.add("servqual", "servqual.dimension_required", "at least one SERVQUAL dimension is required")
		}
		c.rating(sq.Reliability, "servqual.reliability")
		c.rating(sq.Responsiveness, "servqual.responsiveness")
		c.rating(sq.Assurance, "servqual.assurance")
		c.rating(sq.Empathy, "servqual.empathy")
		c.rating(sq.Tangibles, "servqual.tangibles")
	}
	if cm := fb.Comment; cm != nil {
		c.lenBetween(cm.Text, 1, 4000, "comment.text")
		if cm.Language != "" && !isLanguageTag(cm.Language) {
			c.add("comment.language", "string.pattern", "must be a BCP 47 language tag such as en or zh-CN")
		}
	}
	if cp := fb.Complaint; cp != nil {
		c.complaintCategory(cp.Category)
		c.maxLen(cp.Description, 4000, "complaint.description")
	}
	if o := fb.Order; o != nil {
		c.lenBetween(o.OrderId, 1, 128, "order.order_id")
		if o.Amount != nil {
			if o.Amount.AmountMinor < 0 {
				c.add("order.amount", "order.amount_non_negative", "amount must not be negative")
			}
			c.currency(o.Amount.Currency, "order.amount.currency")
		}
	}
	c.attributes(fb.Attributes)
	if fb.Nps == nil && fb.Csat == nil && fb.Ces == nil && fb.Servqual == nil && fb.Comment == nil && fb.Complaint == nil {
		c.add("", "feedback.signal_required", "at least one signal is required: nps, csat, ces, servqual, comment or complaint")
	}
	return append(c.out, v.Policy.CheckTime(fb.OccurredAt, now, "occurred_at")...)
}

// Activity returns every problem with a, naming its fields.
func (v Validator) Activity(a *intakev1.Activity, now time.Time) []*grpcx.FieldViolation {
	var c checker
	c.utf8(a.EventId, "event_id")
	c.utf8(a.CustomerId, "customer_id")
	if p := a.Purchase; p != nil {
		c.utf8(p.OrderId, "purchase.order_id")
		if p.Amount != nil {
			c.utf8(p.Amount.Currency, "purchase.amount.currency")
		}
	}
	if s := a.SupportContact; s != nil {
		c.utf8(s.Reason, "support_contact.reason")
	}
	c.utf8Map(a.Attributes, "attributes")
	if len(c.out) > 0 {
		return c.out
	}

	c.eventID(a.EventId)
	c.customerID(a.CustomerId)
	c.channel(a.Channel)
	switch {
	case a.Purchase == nil && a.SupportContact == nil:
		c.add("", "message.oneof", "one of purchase, support_contact must be set")
	case a.Purchase != nil && a.SupportContact != nil:
		c.add("", "message.oneof", "only one of purchase, support_contact can be set")
	}
	if p := a.Purchase; p != nil {
		c.lenBetween(p.OrderId, 1, 128, "purchase.order_id")
		if p.Amount == nil {
			c.out = append(c.out, required("purchase.amount"))
		} else {
			if p.Amount.AmountMinor <= 0 {
				c.add("purchase.amount", "purchase.amount_positive", "amount must be positive")
			}
			c.currency(p.Amount.Currency, "purchase.amount.currency")
		}
		if p.ItemCount < 0 {
			c.add("purchase.item_count", "int32.gte", "must be greater than or equal to 0")
		}
	}
	if s := a.SupportContact; s != nil {
		c.lenBetween(s.Reason, 1, 256, "support_contact.reason")
	}
	c.attributes(a.Attributes)
	return append(c.out, v.Policy.CheckTime(a.OccurredAt, now, "occurred_at")...)
}

// checker collects violations.
type checker struct {
	out []*grpcx.FieldViolation
}

func (c *checker) add(field, rule, desc string) {
	c.out = append(c.out, &grpcx.FieldViolation{Field: field, Reason: rule, Description: desc})
}

func required(field string) *grpcx.FieldViolation {
	return &grpcx.FieldViolation{Field: field, Reason: "required", Description: "value is required"}
}

func (c *checker) utf8(s, field string) {
	if !utf8.ValidString(s) {
		c.add(field, "utf8", "must be valid UTF-8")
	}
}

func (c *checker) utf8Map(m map[string]string, field string) {
	for k, v := range m {
		if !utf8.ValidString(k) {
			c.add(field, "utf8", "keys must be valid UTF-8")
		} else if !utf8.ValidString(v) {
			c.add(field+"["+strconv.Quote(k)+"]", "utf8", "must be valid UTF-8")
		}
	}
}

func (c *checker) eventID(id string) {
	if id != "" && !isID(id) {
		c.add("event_id", "string.pattern", "must be 1 to 128 letters, digits or ._:@+=~- starting with a letter or digit")
	}
}

func (c *checker) customerID(id string) {
	switch {
	case id == "":
		c.out = append(c.out, required("customer_id"))
	case !isID(id):
		c.add("customer_id", "string.pattern", "must be 1 to 128 letters, digits or ._:@+=~- starting with a letter or digit")
	}
}

func (c *checker) channel(ch intakev1.Channel) {
	switch {
	case ch == 0:
		c.out = append(c.out, required("channel"))
	case intakev1.Channel_name[int32(ch)] == "":
		c.add("channel", "enum.defined_only", "value must be one of the defined enum values")
	}
}

func (c *checker) complaintCategory(cat intakev1.ComplaintCategory) {
	switch {
	case cat == 0:
		c.out = append(c.out, required("complaint.category"))
	case intakev1.ComplaintCategory_name[int32(cat)] == "":
		c.add("complaint.category", "enum.defined_only", "value must be one of the defined enum values")
	}
}

func (c *checker) between(n, lo, hi int32, field string) {
	if n < lo || n > hi {
		c.add(field, "int32.gte_lte", "value must be greater than or equal to "+strconv.Itoa(int(lo))+" and less than or equal to "+strconv.Itoa(int(hi)))
	}
}

func (c *checker) rating(r *intakev1.ServqualRating, field string) {
	if r != nil {
		c.between(r.Expectation, 1, 7, field+".expectation")
		c.between(r.Perception, 1, 7, field+".perception")
	}
}

// maxLen and lenBetween count characters, as protovalidate does.
func (c *checker) maxLen(s string, hi int, field string) {
	if len(s) > hi && utf8.RuneCountInString(s) > hi {
		c.add(field, "string.max_len", "value length must be at most "+strconv.Itoa(hi)+" characters")
	}
}

func (c *checker) lenBetween(s string, lo, hi int, field string) {
	// A string of n bytes has at most n characters, and a non-empty one at
	// least 1: counting is needed only for a minimum above 1.
	if len(s) < lo || (lo > 1 && utf8.RuneCountInString(s) < lo) {
		c.add(field, "string.min_len", "value length must be at least "+strconv.Itoa(lo)+" characters")
	} else {
		c.maxLen(s, hi, field)
	}
}

func (c *checker) currency(s, field string) {
	if len(s) != 3 || !isUpper(s[0]) || !isUpper(s[1]) || !isUpper(s[2]) {
		c.add(field, "string.pattern", "must be an ISO 4217 code such as USD or CNY")
	}
}

func (c *checker) attributes(m map[string]string) {
	if len(m) > 32 {
		c.add("attributes", "map.max_pairs", "map must be at most 32 entries")
	}
	for k, v := range m {
		if !isAttributeKey(k) {
			c.add("attributes["+strconv.Quote(k)+"]", "string.pattern", "keys must be 1 to 64 of a-z 0-9 _ . - starting with a letter")
		}
		if len(v) > 256 { // the path is built only for a violation
			c.maxLen(v, 256, "attributes["+strconv.Quote(k)+"]")
		}
	}
}

func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }
func isLower(b byte) bool { return 'a' <= b && b <= 'z' }
func isDigit(b byte) bool { return '0' <= b && b <= '9' }
func isAlpha(b byte) bool { return isUpper(b) || isLower(b) }

// isID matches ^[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,127}$.
func isID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !(isAlpha(s[0]) || isDigit(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch b := s[i]; {
		case isAlpha(b), isDigit(b):
		case b == '.', b == '_', b == ':', b == '@', b == '+', b == '=', b == '~', b == '-':
		default:
			return false
		}
	}
	return true
}

// isAttributeKey matches ^[a-z][a-z0-9_.-]{0,63}$.
func isAttributeKey(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if b := s[i]; !(isLower(b) || isDigit(b) || b == '_' || b == '.' || b == '-') {
			return false
		}
	}
	return true
}

// isLanguageTag matches ^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$.
func isLanguageTag(s string) bool {
	i := 0
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	if i < 2 || i > 3 {
		return false
	}
	for i < len(s) {
		if s[i] != '-' {
			return false
		}
		i++
		j := i
		for i < len(s) && (isAlpha(s[i]) || isDigit(s[i])) {
			i++
		}
		if n := i - j; n < 2 || n > 8 {
			return false
		}
	}
	return true
}
