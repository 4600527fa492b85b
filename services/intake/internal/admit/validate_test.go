package admit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func validator(t testing.TB) Validator {
	fallback, err := grpcx.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return Validator{
		Policy:   Policy{MaxAge: 365 * 24 * time.Hour, MaxSkew: 5 * time.Minute},
		Now:      func() time.Time { return testNow },
		Fallback: fallback,
	}
}

func good() *intakev1.Feedback {
	return &intakev1.Feedback{
		EventId: "e-1", CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_WEB, Touchpoint: "checkout",
		Nps: proto.Int32(9), Comment: &intakev1.Comment{Text: "非常好", Language: "zh-CN"},
		Attributes: map[string]string{"region": "north"},
	}
}

// seeds are feedback events, valid and invalid in every way intake.proto
// knows, for the table test and as the fuzz corpus.
func seeds() map[string]*intakev1.Feedback {
	edit := func(f func(*intakev1.Feedback)) *intakev1.Feedback { fb := good(); f(fb); return fb }
	long := strings.Repeat("长", 4001)
	return map[string]*intakev1.Feedback{
		"valid":           good(),
		"valid minimal":   {CustomerId: "c", Channel: intakev1.Channel_CHANNEL_OTHER, Ces: proto.Int32(7)},
		"bad event id":    edit(func(f *intakev1.Feedback) { f.EventId = "-starts-with-dash" }),
		"long event id":   edit(func(f *intakev1.Feedback) { f.EventId = strings.Repeat("a", 129) }),
		"no customer":     edit(func(f *intakev1.Feedback) { f.CustomerId = "" }),
		"customer braces": edit(func(f *intakev1.Feedback) { f.CustomerId = "a{b}" }),
		"no channel":      edit(func(f *intakev1.Feedback) { f.Channel = 0 }),
		"unknown channel": edit(func(f *intakev1.Feedback) { f.Channel = 9 }),
		"long touchpoint": edit(func(f *intakev1.Feedback) { f.Touchpoint = strings.Repeat("点", 65) }),
		"nps 11":          edit(func(f *intakev1.Feedback) { f.Nps = proto.Int32(11) }),
		"nps -1":          edit(func(f *intakev1.Feedback) { f.Nps = proto.Int32(-1) }),
		"csat 0":          edit(func(f *intakev1.Feedback) { f.Csat = proto.Int32(0) }),
		"ces 8":           edit(func(f *intakev1.Feedback) { f.Ces = proto.Int32(8) }),
		"servqual empty":  edit(func(f *intakev1.Feedback) { f.Servqual = &intakev1.Servqual{} }),
		"servqual zero":   edit(func(f *intakev1.Feedback) { f.Servqual = &intakev1.Servqual{Tangibles: &intakev1.ServqualRating{}} }),
		"servqual ok": edit(func(f *intakev1.Feedback) {
			f.Servqual = &intakev1.Servqual{Assurance: &intakev1.ServqualRating{Expectation: 1, Perception: 7}}
		}),
		"empty comment":     edit(func(f *intakev1.Feedback) { f.Comment = &intakev1.Comment{} }),
		"long comment":      edit(func(f *intakev1.Feedback) { f.Comment.Text = long }),
		"bad language":      edit(func(f *intakev1.Feedback) { f.Comment.Language = "zh-" }),
		"complaint no cat":  edit(func(f *intakev1.Feedback) { f.Complaint = &intakev1.Complaint{} }),
		"complaint bad cat": edit(func(f *intakev1.Feedback) { f.Complaint = &intakev1.Complaint{Category: 99} }),
		"complaint long":    edit(func(f *intakev1.Feedback) { f.Complaint = &intakev1.Complaint{Category: 1, Description: long} }),
		"order no id":       edit(func(f *intakev1.Feedback) { f.Order = &intakev1.Order{} }),
		"order negative": edit(func(f *intakev1.Feedback) {
			f.Order = &intakev1.Order{OrderId: "o", Amount: &intakev1.Money{AmountMinor: -1, Currency: "EUR"}}
		}),
		"order currency": edit(func(f *intakev1.Feedback) {
			f.Order = &intakev1.Order{OrderId: "o", Amount: &intakev1.Money{AmountMinor: 1, Currency: "eur"}}
		}),
		"attribute key":      edit(func(f *intakev1.Feedback) { f.Attributes["Region"] = "x" }),
		"attribute long":     edit(func(f *intakev1.Feedback) { f.Attributes["region"] = strings.Repeat("v", 257) }),
		"no signal":          edit(func(f *intakev1.Feedback) { f.Nps, f.Comment = nil, nil }),
		"bad utf-8":          edit(func(f *intakev1.Feedback) { f.Comment.Text = "\xed\xa0\x80" }),
		"bad utf-8 attr key": edit(func(f *intakev1.Feedback) { f.Attributes["\xff"] = "v" }),
		"many problems":      {EventId: " ", Channel: 42, Nps: proto.Int32(12), Attributes: map[string]string{"A": "b"}},
	}
}

func TestFeedbackMatchesProtovalidate(t *testing.T) {
	v := validator(t)
	for name, fb := range seeds() {
		t.Run(name, func(t *testing.T) {
			got, want := Under("items[3]", v.Feedback(fb, testNow)), v.Fallback.Violations(fb, "items[3]")
			if name == "valid" || name == "valid minimal" || name == "servqual ok" {
				if len(got) > 0 {
					t.Fatalf("valid event rejected: %v", got)
				}
			} else if len(got) == 0 {
				t.Fatal("invalid event accepted")
			}
			if g, w := keys(got), keys(want); !slices.Equal(g, w) {
				t.Errorf("violations\n got %v\nwant %v (protovalidate)", g, w)
			}
		})
	}
}

func TestEventTimes(t *testing.T) {
	v := validator(t)
	fb := good()
	fb.OccurredAt = timestamppb.New(testNow.Add(time.Hour))
	got := keys(Under("feedback", v.Feedback(fb, testNow)))
	if !slices.Equal(got, []string{"feedback.occurred_at timestamp.future"}) {
		t.Errorf("violations = %v", got)
	}
}

func TestRequests(t *testing.T) {
	v := validator(t)
	for _, tc := range []struct {
		req  proto.Message
		want []string
	}{
		{&intakev1.SubmitFeedbackRequest{}, []string{"feedback required"}},
		{&intakev1.SubmitFeedbackRequest{Feedback: good()}, nil},
		{&intakev1.SubmitFeedbackBatchRequest{}, []string{"items repeated.min_items"}},
		{&intakev1.SubmitFeedbackBatchRequest{Items: make([]*intakev1.Feedback, 501)}, []string{"items repeated.max_items"}},
		{&intakev1.SubmitFeedbackBatchRequest{Items: []*intakev1.Feedback{{}}}, nil}, // items are checked one by one
		{&intakev1.RecordActivityRequest{}, []string{"activity required"}},
		{&intakev1.RecordActivityRequest{Activity: &intakev1.Activity{CustomerId: "c", Channel: 1}}, []string{"activity message.oneof"}},
	} {
		if got := keys(v.Violations(tc.req)); !slices.Equal(got, tc.want) {
			t.Errorf("%T %v: violations = %v, want %v", tc.req, tc.req, got, tc.want)
		}
	}
}

func keys(vs []*grpcx.FieldViolation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Field+" "+v.Reason)
	}
	slices.Sort(out)
	return out
}

// FuzzValidatorMatchesProtovalidate holds the hand-written validator to the
// rules in intake.proto: for any feedback or activity message, it must report
// the same fields and rules as protovalidate (time checks aside, which the
// proto cannot express).
//
//	go test -fuzz FuzzValidatorMatchesProtovalidate -fuzztime 5m ./internal/admit
func FuzzValidatorMatchesProtovalidate(f *testing.F) {
	for _, fb := range seeds() {
		b, _ := proto.Marshal(fb)
		f.Add(false, b)
	}
	for _, a := range activities() {
		b, _ := proto.Marshal(a)
		f.Add(true, b)
	}
	v := validator(f)
	f.Fuzz(func(t *testing.T, activity bool, data []byte) {
		var msg proto.Message = &intakev1.Feedback{}
		if activity {
			msg = &intakev1.Activity{}
		}
		if proto.Unmarshal(data, msg) != nil {
			return
		}
		var got []*grpcx.FieldViolation
		switch m := msg.(type) {
		case *intakev1.Feedback:
			got = v.Feedback(m, testNow)
		case *intakev1.Activity:
			got = v.Activity(m, testNow)
		}
		got = slices.DeleteFunc(got, func(fv *grpcx.FieldViolation) bool { return strings.HasPrefix(fv.Reason, "timestamp.") })
		if g, w := keys(got), keys(v.Fallback.Violations(msg, "")); !slices.Equal(g, w) {
			t.Errorf("%v\n got %v\nwant %v (protovalidate)", msg, g, w)
		}
	})
}

func activities() []*intakev1.Activity {
	money := func(n int64, cur string) *intakev1.Money { return &intakev1.Money{AmountMinor: n, Currency: cur} }
	return []*intakev1.Activity{
		{CustomerId: "c", Channel: 6, Purchase: &intakev1.Purchase{OrderId: "o", Amount: money(100, "CNY"), ItemCount: 1}},
		{CustomerId: "c", Channel: 6, Purchase: &intakev1.Purchase{OrderId: "o", Amount: money(0, "CNY")}},
		{CustomerId: "c", Channel: 6, Purchase: &intakev1.Purchase{OrderId: "o"}},
		{CustomerId: "c", Channel: 6, Purchase: &intakev1.Purchase{Amount: money(5, "usd"), ItemCount: -1}},
		{CustomerId: "c", Channel: 4, SupportContact: &intakev1.SupportContact{Reason: "refund", Resolved: true}},
		{CustomerId: "c", Channel: 4, SupportContact: &intakev1.SupportContact{}},
		{CustomerId: "c", Channel: 4, SupportContact: &intakev1.SupportContact{Reason: "x"}, Purchase: &intakev1.Purchase{OrderId: "o", Amount: money(1, "EUR")}},
		{EventId: "bad id", Channel: 0, Attributes: map[string]string{"k": fmt.Sprint(strings.Repeat("v", 300))}},
	}
}
