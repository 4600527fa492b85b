package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"
)

var (
	testNow   = time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	testClock = clock{now: func() time.Time { return testNow }, loc: time.UTC}
)

// parse parses args with cmd's flags, as cobra would before RunE.
func parse(t *testing.T, cmd *cobra.Command, args ...string) {
	t.Helper()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
}

func TestFeedbackFromFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *intakev1.Feedback
		wantErr string
	}{
		{
			name: "a detractor's complaint",
			args: []string{"--customer", "c-1", "--channel", "app", "--touchpoint", "delivery", "--nps", "3",
				"--comment", "late again", "--complaint", "delivery", "--complaint-text", "parcel 2 days late"},
			want: &intakev1.Feedback{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_APP, Touchpoint: "delivery",
				Nps: proto.Int32(3), Comment: &intakev1.Comment{Text: "late again"},
				Complaint: &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY, Description: "parcel 2 days late"}},
		},
		{
			name: "nps 0 is an answer, csat and ces unset",
			args: []string{"--customer", "c-1", "--channel", "web", "--nps", "0"},
			want: &intakev1.Feedback{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(0)},
		},
		{
			name: "every other field",
			args: []string{"--customer", "c-2", "--channel", "CHANNEL_STORE", "--csat", "5", "--ces", "2", "--event-id", "survey-7",
				"--at", "2025-06-01T10:00:00Z", "--order", "o-9", "--servqual", "reliability=6:3", "--attr", "region=eu",
				"--comment", "太慢了", "--language", "zh-CN"},
			want: &intakev1.Feedback{CustomerId: "c-2", Channel: intakev1.Channel_CHANNEL_STORE, Csat: proto.Int32(5), Ces: proto.Int32(2),
				EventId: "survey-7", OccurredAt: timestamppb.New(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)),
				Order:      &intakev1.Order{OrderId: "o-9"},
				Servqual:   &intakev1.Servqual{Reliability: &intakev1.ServqualRating{Expectation: 6, Perception: 3}},
				Attributes: map[string]string{"region": "eu"}, Comment: &intakev1.Comment{Text: "太慢了", Language: "zh-CN"}},
		},
		{
			name: "a relative time",
			args: []string{"--customer", "c-1", "--channel", "app", "--nps", "9", "--at", "2h"},
			want: &intakev1.Feedback{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_APP, Nps: proto.Int32(9),
				OccurredAt: timestamppb.New(testNow.Add(-2 * time.Hour))},
		},
		{name: "unknown channel", args: []string{"--customer", "c", "--channel", "fax"}, wantErr: "--channel"},
		{name: "unknown complaint", args: []string{"--customer", "c", "--channel", "app", "--complaint", "weather"}, wantErr: "--complaint"},
		{name: "complaint text alone", args: []string{"--customer", "c", "--channel", "app", "--complaint-text", "x"}, wantErr: "needs --complaint"},
		{name: "bad time", args: []string{"--customer", "c", "--channel", "app", "--at", "soon"}, wantErr: "--at"},
		{name: "bad servqual", args: []string{"--customer", "c", "--channel", "app", "--servqual", "speed=1:2"}, wantErr: "--servqual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f feedbackFlags
			cmd := &cobra.Command{}
			f.register(cmd.Flags())
			parse(t, cmd, tt.args...)
			got, err := f.feedback(cmd.Flags().Changed, testClock)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("err = %v, want a usage error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !proto.Equal(got, tt.want) {
				t.Errorf("feedback = %v, %v\nwant %v", got, err, tt.want)
			}
		})
	}
}

func TestActivityFromFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *intakev1.Activity
		wantErr string
	}{
		{
			name: "a purchase",
			args: []string{"--customer", "c-1", "--channel", "web", "--order", "o-1", "--amount", "12.50", "--currency", "usd", "--items", "2"},
			want: &intakev1.Activity{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_WEB,
				Purchase: &intakev1.Purchase{OrderId: "o-1", Amount: &intakev1.Money{AmountMinor: 1250, Currency: "USD"}, ItemCount: 2}},
		},
		{
			name: "a support contact",
			args: []string{"--customer", "c-1", "--channel", "phone", "--contact", "parcel missing", "--resolved", "--event-id", "call-1"},
			want: &intakev1.Activity{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_PHONE, EventId: "call-1",
				SupportContact: &intakev1.SupportContact{Reason: "parcel missing", Resolved: true}},
		},
		{name: "purchase without amount", args: []string{"--customer", "c", "--channel", "web", "--order", "o"}, wantErr: "--amount"},
		{name: "both", args: []string{"--customer", "c", "--channel", "web", "--order", "o", "--amount", "1", "--contact", "x"}, wantErr: "not both"},
		{name: "bad amount", args: []string{"--customer", "c", "--channel", "web", "--order", "o", "--amount", "1.999"}, wantErr: "--amount"},
		{name: "neither", args: []string{"--customer", "c", "--channel", "web"}, wantErr: "needs --order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f activityFlags
			cmd := &cobra.Command{}
			f.register(cmd.Flags())
			parse(t, cmd, tt.args...)
			got, err := f.activity(testClock)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("err = %v, want a usage error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !proto.Equal(got, tt.want) {
				t.Errorf("activity = %v, %v\nwant %v", got, err, tt.want)
			}
		})
	}
}

func TestResolveRequest(t *testing.T) {
	apology := &alertingv1.RecoveryAction{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY}
	tests := []struct {
		name    string
		flags   resolveFlags
		want    []*alertingv1.RecoveryAction
		wantErr string
	}{
		{name: "an apology", flags: resolveFlags{rootCause: "late courier", apology: true}, want: []*alertingv1.RecoveryAction{apology}},
		{
			name:  "every action",
			flags: resolveFlags{rootCause: "late courier", apology: true, fix: "re-shipped", compensation: "10.00USD", compensationNote: "voucher V-1", other: "called"},
			want: []*alertingv1.RecoveryAction{apology,
				{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_FIX, Note: "re-shipped"},
				{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION, Note: "voucher V-1", Compensation: &intakev1.Money{AmountMinor: 1000, Currency: "USD"}},
				{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_OTHER, Note: "called"}},
		},
		{name: "no action", flags: resolveFlags{rootCause: "x"}, wantErr: "at least one"},
		{name: "no root cause", flags: resolveFlags{apology: true}, wantErr: "--root-cause"},
		{name: "bad compensation", flags: resolveFlags{rootCause: "x", compensation: "ten"}, wantErr: "--compensation"},
		{name: "note without compensation", flags: resolveFlags{rootCause: "x", apology: true, compensationNote: "n"}, wantErr: "--compensation AMOUNT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.request("case-1", "olivia")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("err = %v, want a usage error about %s", err, tt.wantErr)
				}
				return
			}
			want := &alertingv1.ResolveAlertRequest{CaseId: "case-1", By: "olivia",
				Resolution: &alertingv1.Resolution{RootCause: tt.flags.rootCause, Actions: tt.want}}
			if err != nil || !proto.Equal(got, want) {
				t.Errorf("request = %v, %v\nwant %v", got, err, want)
			}
		})
	}
}

func TestListRequests(t *testing.T) {
	alerts, err := listAlertsFlags{states: []string{"open", "ack"}, severity: "high", tier: "champion", customer: "c-1", limit: 20}.request()
	wantAlerts := &alertingv1.ListAlertsRequest{
		States:      []alertingv1.CaseState{alertingv1.CaseState_CASE_STATE_OPEN, alertingv1.CaseState_CASE_STATE_ACKNOWLEDGED},
		MinSeverity: alertingv1.Severity_SEVERITY_HIGH, Tier: "champion", CustomerId: "c-1", PageSize: 20,
	}
	if err != nil || !proto.Equal(alerts, wantAlerts) {
		t.Errorf("alerts list = %v, %v; want %v", alerts, err, wantAlerts)
	}
	customers, err := listCustomersFlags{tier: "at-risk", minRisk: 0.5, order: "value", limit: 0}.request()
	wantCustomers := &segmentationv1.ListCustomersRequest{Tier: "at-risk", MinChurnRisk: 0.5,
		OrderBy: segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE, PageSize: 1000}
	if err != nil || !proto.Equal(customers, wantCustomers) {
		t.Errorf("customers list = %v, %v; want %v", customers, err, wantCustomers)
	}
	for name, f := range map[string]func() error{
		"state":    func() error { _, err := (listAlertsFlags{states: []string{"closed"}}).request(); return err },
		"severity": func() error { _, err := (listAlertsFlags{severity: "urgent"}).request(); return err },
		"limit":    func() error { _, err := (listAlertsFlags{limit: -1}).request(); return err },
		"order":    func() error { _, err := (listCustomersFlags{order: "name"}).request(); return err },
		"risk":     func() error { _, err := (listCustomersFlags{order: "risk", minRisk: 1.5}).request(); return err },
	} {
		if err := f(); exitCode(err) != exitUsage {
			t.Errorf("bad %s: %v, want a usage error", name, err)
		}
	}
}

func TestPageSize(t *testing.T) {
	tests := []struct {
		limit, have int
		want        int32
	}{{0, 0, 1000}, {0, 5000, 1000}, {50, 0, 50}, {2500, 0, 1000}, {2500, 2000, 500}}
	for _, tt := range tests {
		if got := pageSize(tt.limit, tt.have); got != tt.want {
			t.Errorf("pageSize(%d, %d) = %d, want %d", tt.limit, tt.have, got, tt.want)
		}
	}
}

// TestListAll pages through a fake list of 25 items that serves at most
// pageMax a page, whatever the size asked.
func TestListAll(t *testing.T) {
	type call struct {
		token string
		size  int32
	}
	list := func(pageMax int, calls *[]call) func(context.Context, string, int32) ([]int, string, error) {
		return func(ctx context.Context, token string, size int32) ([]int, string, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("a page call without the --timeout deadline")
			}
			*calls = append(*calls, call{token, size})
			from, _ := strconv.Atoi(token)
			to := min(from+int(size), from+pageMax, 25)
			var items []int
			for i := from; i < to; i++ {
				items = append(items, i)
			}
			next := ""
			if to < 25 {
				next = strconv.Itoa(to)
			}
			return items, next, nil
		}
	}
	a := &app{timeout: time.Minute}
	tests := []struct {
		name      string
		limit     int
		pageMax   int
		wantItems int
		wantNext  string
		wantCalls []call
	}{
		{"all, in pages of 10", 0, 10, 25, "", []call{{"", 1000}, {"10", 1000}, {"20", 1000}}},
		{"a limit over pages asks for what is still wanted", 12, 10, 12, "12", []call{{"", 12}, {"10", 2}}},
		{"a limit on a page boundary", 10, 10, 10, "10", []call{{"", 10}}},
		{"a limit above what matches", 50, 10, 25, "", []call{{"", 50}, {"10", 40}, {"20", 30}}},
	}
	for _, tt := range tests {
		var calls []call
		items, next, err := listAll(context.Background(), a, tt.limit, list(tt.pageMax, &calls))
		if err != nil || len(items) != tt.wantItems || next != tt.wantNext || !slices.Equal(calls, tt.wantCalls) {
			t.Errorf("%s: %d items, next %q, %v, calls %v; want %d, %q, calls %v",
				tt.name, len(items), next, err, calls, tt.wantItems, tt.wantNext, tt.wantCalls)
		}
		for i, it := range items {
			if it != i {
				t.Errorf("%s: item %d is %d: want every item once, in order", tt.name, i, it)
				break
			}
		}
	}
	// A server that sends more than asked is cut to the limit.
	items, next, err := listAll(context.Background(), a, 3, func(context.Context, string, int32) ([]int, string, error) {
		return []int{0, 1, 2, 3, 4}, "5", nil
	})
	if err != nil || !slices.Equal(items, []int{0, 1, 2}) || next != "5" {
		t.Errorf("an oversized page: %v, %q, %v; want the first 3 and the next token", items, next, err)
	}
	// An error on a later page is the result, without the items so far.
	boom := errors.New("boom")
	n := 0
	items, _, err = listAll(context.Background(), a, 0, func(context.Context, string, int32) ([]int, string, error) {
		if n++; n == 2 {
			return nil, "", boom
		}
		return []int{1}, "more", nil
	})
	if !errors.Is(err, boom) || items != nil {
		t.Errorf("a failed second page: %v, %v; want the error alone", items, err)
	}
}

func TestExperienceRequest(t *testing.T) {
	got, err := experienceFlags{window: "7d", touchpoint: "delivery", channel: "app", by: "day", split: []string{"channel", "touchpoint"}}.request(testClock)
	want := &scoringv1.GetExperienceReportRequest{
		StartTime: timestamppb.New(testNow.Add(-7 * 24 * time.Hour)), EndTime: timestamppb.New(testNow),
		Touchpoint: "delivery", Channel: intakev1.Channel_CHANNEL_APP, Granularity: scoringv1.Granularity_GRANULARITY_DAY,
		GroupByChannel: true, GroupByTouchpoint: true,
	}
	if err != nil || !proto.Equal(got, want) {
		t.Errorf("request = %v, %v\nwant %v", got, err, want)
	}
	for _, bad := range []experienceFlags{{window: "a week"}, {window: "7d", by: "month"}, {window: "7d", split: []string{"tier"}}, {window: "7d", channel: "fax"}} {
		if _, err := bad.request(testClock); exitCode(err) != exitUsage {
			t.Errorf("%+v: %v, want a usage error", bad, err)
		}
	}
}

func TestResolveAddr(t *testing.T) {
	tests := []struct {
		name                             string
		own, host, ownEnv, hostEnv, want string
	}{
		{"default", "", "", "", "", "127.0.0.1:8083"},
		{"own flag wins", "seg:9000", "h", "env:1", "envhost", "seg:9000"},
		{"--host keeps the service's port", "", "feedloop.internal", "env:1", "envhost", "feedloop.internal:8083"},
		{"an IPv6 host", "", "::1", "", "", "[::1]:8083"},
		{"own variable", "", "", "env:1", "envhost", "env:1"},
		{"FEEDLOOP_HOST", "", "", "", "envhost", "envhost:8083"},
	}
	for _, tt := range tests {
		if got := resolveAddr(tt.own, tt.host, tt.ownEnv, tt.hostEnv, "127.0.0.1:8083"); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{"FEEDLOOP_API_KEY": "k-env", "FEEDLOOP_HOST": "10.1.2.3", "FEEDLOOP_ALERTING_ADDR": "alerts:443", "FEEDLOOP_TLS": "1"}
	a := &app{getenv: func(k string) string { return env[k] }, clock: testClock}
	root := a.rootCmd()
	parse(t, root, "--api-key", "k-flag", "--intake-addr", "in:1")
	tests := []struct {
		service    string
		addr, key  string
		tlsEnabled bool
	}{
		{"intake", "in:1", "k-flag", true},
		{"scoring", "10.1.2.3:8082", "k-flag", true},
		{"alerting", "alerts:443", "k-flag", true},
	}
	for _, tt := range tests {
		i := slices.IndexFunc(services, func(s service) bool { return s.name == tt.service })
		if i < 0 {
			t.Fatalf("no service %q", tt.service)
		}
		cfg := a.config(services[i])
		if cfg.Addr != tt.addr || cfg.APIKey != tt.key || cfg.TLS != tt.tlsEnabled {
			t.Errorf("%s: %+v, want %s key %s tls %v", tt.service, cfg, tt.addr, tt.key, tt.tlsEnabled)
		}
	}
	// Nothing set: the local stack with the dev key.
	b := &app{getenv: func(string) string { return "" }, clock: testClock}
	parse(t, b.rootCmd())
	if cfg := b.config(services[0]); cfg.Addr != "127.0.0.1:8081" || cfg.APIKey != "feedloop-dev-key" || cfg.TLS {
		t.Errorf("defaults: %+v", cfg)
	}
}
