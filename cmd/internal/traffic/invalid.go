package traffic

import (
	"time"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// flaw breaks one rule of intake.proto in an otherwise valid event, as a
// buggy integration would.
type flaw struct {
	name     string
	purchase bool // applies to a purchase, not to a feedback
	apply    func(*Event)
}

var flaws = []flaw{
	{"nps-out-of-range", false, func(e *Event) { e.Feedback.Nps = proto.Int32(11) }},
	{"csat-out-of-range", false, func(e *Event) { e.Feedback.Csat = proto.Int32(0) }},
	{"no-signal", false, func(e *Event) {
		f := e.Feedback
		f.Nps, f.Csat, f.Ces, f.Servqual, f.Comment, f.Complaint = nil, nil, nil, nil, nil, nil
	}},
	{"empty-comment", false, func(e *Event) { e.Feedback.Comment = &intakev1.Comment{} }},
	{"complaint-without-category", false, func(e *Event) {
		e.Feedback.Complaint = &intakev1.Complaint{Description: "It is broken"}
	}},
	{"no-channel", false, func(e *Event) { e.Feedback.Channel = intakev1.Channel_CHANNEL_UNSPECIFIED }},
	{"no-customer", false, func(e *Event) { e.Feedback.CustomerId = "" }},
	{"bad-customer-id", false, func(e *Event) { e.Feedback.CustomerId = "customer #" + e.Feedback.CustomerId }},
	{"non-positive-amount", true, func(e *Event) { e.Activity.Purchase.Amount.AmountMinor = -e.Activity.Purchase.Amount.AmountMinor }},
	{"bad-currency", true, func(e *Event) { e.Activity.Purchase.Amount.Currency = "usd" }},
	{"no-order-id", true, func(e *Event) { e.Activity.Purchase.OrderId = "" }},
	{"purchase-no-customer", true, func(e *Event) { e.Activity.CustomerId = "" }},
}

// invalid makes an event that breaks one rule. It changes no customer's
// state: intake rejects it, so for the pipeline it never happened.
func (g *Generator) invalid(now time.Time) Event {
	f := flaws[g.rng.IntN(len(flaws))]
	var ev Event
	if f.purchase {
		c := &g.customers[g.choose(g.buyers)]
		ev = Event{Persona: c.persona, Activity: g.purchase(c, now)}
	} else {
		c := &g.customers[g.choose(g.talkers)]
		ev = Event{Persona: c.persona, Feedback: g.feedback(c, now)}
	}
	ev.Kind, ev.Flaw = KindInvalid, f.name
	f.apply(&ev)
	return ev
}
