package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// feedbackFlags are submit's flags, one field per flag.
type feedbackFlags struct {
	customer, eventID, at      string
	channel, touchpoint        string
	nps, csat, ces             int32
	comment, language          string
	complaint, complaintDetail string
	order                      string
	servqual, attrs            map[string]string
}

func (f *feedbackFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.customer, "customer", "", "the customer's id in your systems (required)")
	fs.StringVar(&f.channel, "channel", "", "where the feedback was given: "+strings.Join(channels.names(), ", ")+" (required)")
	fs.StringVar(&f.touchpoint, "touchpoint", "", `the moment of truth it is about, e.g. "delivery"`)
	fs.Int32Var(&f.nps, "nps", 0, "Net Promoter answer, 0-10")
	fs.Int32Var(&f.csat, "csat", 0, "satisfaction, 1 (very dissatisfied) to 5 (very satisfied)")
	fs.Int32Var(&f.ces, "ces", 0, "effort, 1 (very low) to 7 (very high)")
	fs.StringVar(&f.comment, "comment", "", "the customer's own words")
	fs.StringVar(&f.language, "language", "", `the comment's language (BCP 47, e.g. "en", "zh-CN"); detected when empty`)
	fs.StringVar(&f.complaint, "complaint", "", "a complaint of this category: "+strings.Join(complaints.names(), ", "))
	fs.StringVar(&f.complaintDetail, "complaint-text", "", "what the complaint says")
	fs.StringToStringVar(&f.servqual, "servqual", nil, "SERVQUAL ratings DIMENSION=EXPECTED:PERCEIVED (1-7), e.g. reliability=6:3,empathy=5:5")
	fs.StringVar(&f.order, "order", "", "the order the feedback is about")
	fs.StringVar(&f.eventID, "event-id", "", "idempotency key: a repeat with the same id is stored once (default: assigned by intake)")
	fs.StringVar(&f.at, "at", "", "when it was given: RFC 3339, a date, or e.g. 2h for two hours ago (default now)")
	fs.StringToStringVar(&f.attrs, "attr", nil, "labels KEY=VALUE, e.g. region=eu (repeatable)")
}

// feedback builds the event from the flags; changed tells which flags the
// user set, since 0 is a valid NPS answer.
func (f *feedbackFlags) feedback(changed func(string) bool, c clock) (*intakev1.Feedback, error) {
	fb := &intakev1.Feedback{
		EventId:    f.eventID,
		CustomerId: f.customer,
		Touchpoint: f.touchpoint,
		Attributes: f.attrs,
	}
	ch, err := channels.parse(f.channel)
	if err != nil {
		return nil, usagef("--channel: %v", err)
	}
	fb.Channel = intakev1.Channel(ch)
	if changed("nps") {
		fb.Nps = proto.Int32(f.nps)
	}
	if changed("csat") {
		fb.Csat = proto.Int32(f.csat)
	}
	if changed("ces") {
		fb.Ces = proto.Int32(f.ces)
	}
	if f.comment != "" || f.language != "" {
		fb.Comment = &intakev1.Comment{Text: f.comment, Language: f.language}
	}
	if f.complaint != "" {
		cat, err := complaints.parse(f.complaint)
		if err != nil {
			return nil, usagef("--complaint: %v", err)
		}
		fb.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory(cat), Description: f.complaintDetail}
	} else if f.complaintDetail != "" {
		return nil, usagef("--complaint-text needs --complaint CATEGORY")
	}
	if fb.Servqual, err = parseServqual(f.servqual); err != nil {
		return nil, usagef("--servqual: %v", err)
	}
	if f.order != "" {
		fb.Order = &intakev1.Order{OrderId: f.order}
	}
	if fb.OccurredAt, err = optionalTime(f.at, c); err != nil {
		return nil, usagef("--at: %v", err)
	}
	return fb, nil
}

// optionalTime parses a time flag; empty leaves the time to the server.
func optionalTime(s string, c clock) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(s, c.now(), c.loc)
	if err != nil {
		return nil, err
	}
	return timestamppb.New(t), nil
}

func (a *app) submitCmd() *cobra.Command {
	var f feedbackFlags
	cmd := &cobra.Command{
		Use:   "submit --customer ID --channel CHANNEL [signals]",
		Short: "Submit one feedback event",
		Long: `Submit one feedback event to intake. Give at least one signal: --nps, --csat,
--ces, --servqual, --comment or --complaint. An OK means the event is stored.`,
		Example: `  feedctl submit --customer c-1 --channel app --touchpoint delivery --nps 3 \
      --comment "late again" --complaint delivery
  feedctl submit --customer c-2 --channel web --csat 5 --event-id survey-812`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fb, err := f.feedback(cmd.Flags().Changed, a.clock)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.intake, intakev1.IntakeServiceClient.SubmitFeedback,
				&intakev1.SubmitFeedbackRequest{Feedback: fb})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return printStored(cmd.OutOrStdout(), "feedback", resp.GetEventId(), resp.GetDuplicate())
		},
	}
	f.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("customer")
	_ = cmd.MarkFlagRequired("channel")
	_ = cmd.RegisterFlagCompletionFunc("channel", fixedCompletion(channels.names()...))
	_ = cmd.RegisterFlagCompletionFunc("complaint", fixedCompletion(complaints.names()...))
	return cmd
}

func printStored(w io.Writer, what, id string, duplicate bool) error {
	if duplicate {
		_, err := fmt.Fprintf(w, "%s %s was already stored: nothing new stored\n", what, id)
		return err
	}
	_, err := fmt.Fprintf(w, "stored %s %s\n", what, id)
	return err
}

// activityFlags are activity's flags.
type activityFlags struct {
	customer, eventID, at, channel string
	order, amount, currency        string
	items                          int32
	contact                        string
	resolved                       bool
	attrs                          map[string]string
}

func (f *activityFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.customer, "customer", "", "the customer's id in your systems (required)")
	fs.StringVar(&f.channel, "channel", "", "where it happened: "+strings.Join(channels.names(), ", ")+" (required)")
	fs.StringVar(&f.order, "order", "", "order id of a purchase")
	fs.StringVar(&f.amount, "amount", "", "amount of a purchase, e.g. 12.50")
	fs.StringVar(&f.currency, "currency", "USD", "ISO 4217 currency of --amount")
	fs.Int32Var(&f.items, "items", 0, "number of items in the purchase")
	fs.StringVar(&f.contact, "contact", "", "a support contact instead of a purchase: its reason")
	fs.BoolVar(&f.resolved, "resolved", false, "the support contact resolved the customer's issue")
	fs.StringVar(&f.eventID, "event-id", "", "idempotency key (default: assigned by intake)")
	fs.StringVar(&f.at, "at", "", "when it happened: RFC 3339, a date, or e.g. 2h for two hours ago (default now)")
	fs.StringToStringVar(&f.attrs, "attr", nil, "labels KEY=VALUE (repeatable)")
}

// activity builds a purchase (--order, --amount) or a support contact
// (--contact).
func (f *activityFlags) activity(c clock) (*intakev1.Activity, error) {
	act := &intakev1.Activity{EventId: f.eventID, CustomerId: f.customer, Attributes: f.attrs}
	ch, err := channels.parse(f.channel)
	if err != nil {
		return nil, usagef("--channel: %v", err)
	}
	act.Channel = intakev1.Channel(ch)
	if act.OccurredAt, err = optionalTime(f.at, c); err != nil {
		return nil, usagef("--at: %v", err)
	}
	purchase := f.order != "" || f.amount != "" || f.items != 0
	switch {
	case purchase && f.contact != "":
		return nil, usagef("give a purchase (--order, --amount) or a support contact (--contact), not both")
	case f.contact != "":
		act.SupportContact = &intakev1.SupportContact{Reason: f.contact, Resolved: f.resolved}
	case f.order == "" || f.amount == "":
		return nil, usagef("a purchase needs --order and --amount (or give --contact REASON)")
	default:
		money, err := parseAmount(f.amount, f.currency)
		if err != nil {
			return nil, usagef("--amount: %v", err)
		}
		act.Purchase = &intakev1.Purchase{OrderId: f.order, Amount: money, ItemCount: f.items}
	}
	return act, nil
}

func (a *app) activityCmd() *cobra.Command {
	var f activityFlags
	cmd := &cobra.Command{
		Use:   "activity --customer ID --channel CHANNEL (--order ID --amount N | --contact REASON)",
		Short: "Record a purchase or a support contact",
		Long:  `Record a purchase (which feeds the customer's value: RFM, tier) or a support contact.`,
		Example: `  feedctl activity --customer c-1 --channel web --order o-981 --amount 129.90 --currency EUR
  feedctl activity --customer c-1 --channel phone --contact "parcel missing" --resolved`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			act, err := f.activity(a.clock)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.intake, intakev1.IntakeServiceClient.RecordActivity,
				&intakev1.RecordActivityRequest{Activity: act})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			what := "purchase"
			if act.SupportContact != nil {
				what = "support contact"
			}
			return printStored(cmd.OutOrStdout(), what, resp.GetEventId(), resp.GetDuplicate())
		},
	}
	f.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("customer")
	_ = cmd.MarkFlagRequired("channel")
	_ = cmd.RegisterFlagCompletionFunc("channel", fixedCompletion(channels.names()...))
	return cmd
}
