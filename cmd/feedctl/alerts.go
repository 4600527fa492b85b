package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
)

func (a *app) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alerts",
		Aliases: []string{"alert", "cases"},
		Short:   "Service-recovery cases: list, inspect, acknowledge, resolve, watch",
	}
	cmd.AddCommand(a.alertsListCmd(), a.alertsGetCmd(), a.alertsAckCmd(), a.alertsResolveCmd(),
		a.alertsReopenCmd(), a.alertsWatchCmd(), a.alertsBacktestCmd())
	return cmd
}

type listAlertsFlags struct {
	states         []string
	severity, tier string
	customer       string
	limit          int
}

func (f listAlertsFlags) request() (*alertingv1.ListAlertsRequest, error) {
	req := &alertingv1.ListAlertsRequest{Tier: f.tier, CustomerId: f.customer, PageSize: pageSize(f.limit, 0)}
	for _, s := range f.states {
		n, err := caseStates.parse(s)
		if err != nil {
			return nil, usagef("--state: %v", err)
		}
		req.States = append(req.States, alertingv1.CaseState(n))
	}
	if f.severity != "" {
		n, err := severities.parse(f.severity)
		if err != nil {
			return nil, usagef("--severity: %v", err)
		}
		req.MinSeverity = alertingv1.Severity(n)
	}
	if f.limit < 0 {
		return nil, usagef("--limit %d: want 0 (all) or more", f.limit)
	}
	return req, nil
}

func (a *app) alertsListCmd() *cobra.Command {
	var f listAlertsFlags
	cmd := &cobra.Command{
		Use:   "list [--state open] [--severity high] [--tier T] [--customer ID] [--limit N]",
		Short: "List cases, newest first",
		Example: `  feedctl alerts list --state open --severity high
  feedctl alerts list --state open,acknowledged --tier champion
  feedctl alerts list --customer c-1 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			svc, err := a.alerting()
			if err != nil {
				return err
			}
			all := &alertingv1.ListAlertsResponse{}
			all.Cases, all.NextPageToken, err = listAll(cmd.Context(), a, f.limit,
				func(ctx context.Context, token string, size int32) ([]*alertingv1.RecoveryCase, string, error) {
					req.PageToken, req.PageSize = token, size
					resp, err := svc.ListAlerts(ctx, req)
					return resp.GetCases(), resp.GetNextPageToken(), err
				})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), all)
			}
			if len(all.Cases) == 0 {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "No cases match.")
				return err
			}
			if err := renderCases(cmd.OutOrStdout(), all.Cases, a.clock); err != nil {
				return err
			}
			if all.NextPageToken != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more cases match: raise --limit (0 for all)\n")
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&f.states, "state", nil, "only cases in these states: "+strings.Join(caseStates.names(), ", "))
	cmd.Flags().StringVar(&f.severity, "severity", "", "only cases at or above this severity: "+strings.Join(severities.names(), ", "))
	cmd.Flags().StringVar(&f.tier, "tier", "", "only cases of customers in this tier when the case opened")
	cmd.Flags().StringVar(&f.customer, "customer", "", "only this customer's cases")
	cmd.Flags().IntVar(&f.limit, "limit", 50, "at most this many cases; 0 for all")
	_ = cmd.RegisterFlagCompletionFunc("state", fixedCompletion(caseStates.names()...))
	_ = cmd.RegisterFlagCompletionFunc("severity", fixedCompletion(severities.names()...))
	return cmd
}

func severityName(s alertingv1.Severity) string { return short(s.String(), "SEVERITY_") }
func stateName(s alertingv1.CaseState) string   { return short(s.String(), "CASE_STATE_") }
func changeName(t alertingv1.CaseEventType) string {
	return strings.ReplaceAll(short(t.String(), "CASE_EVENT_TYPE_"), "_", " ")
}

// nextDeadline is what a case waits for: acknowledgement while open,
// resolution while acknowledged, nothing once resolved.
func nextDeadline(c *alertingv1.RecoveryCase, k clock) string {
	switch c.GetState() {
	case alertingv1.CaseState_CASE_STATE_OPEN:
		return "ack " + k.due(c.GetAcknowledgeBy())
	case alertingv1.CaseState_CASE_STATE_ACKNOWLEDGED:
		return "resolve " + k.due(c.GetResolveBy())
	}
	return ""
}

func renderCases(w io.Writer, cs []*alertingv1.RecoveryCase, k clock) error {
	t := newTable("CASE", "SEVERITY", "STATE", "CUSTOMER", "TIER", "RULE", "OPENED", "DUE", "SUMMARY")
	for _, c := range cs {
		state := stateName(c.GetState())
		if c.GetEscalationLevel() > 0 && c.GetState() != alertingv1.CaseState_CASE_STATE_RESOLVED {
			state += fmt.Sprintf(" (esc %d)", c.GetEscalationLevel())
		}
		t.add(c.GetCaseId(), severityName(c.GetSeverity()), state, c.GetCustomerId(), c.GetTier(), c.GetRule(),
			k.at(c.GetOpenedAt()), nextDeadline(c, k), truncate(c.GetSummary(), 60))
	}
	return t.render(w)
}

func (a *app) alertsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show a case with its history and notifications",
		Example: "  feedctl alerts get 01J2Z3...",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := call(cmd.Context(), a, a.alerting, alertingv1.AlertingServiceClient.GetAlert,
				&alertingv1.GetAlertRequest{CaseId: args[0]})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderAlert(cmd.OutOrStdout(), resp, a.clock)
		},
	}
}

func renderAlert(w io.Writer, r *alertingv1.GetAlertResponse, k clock) error {
	c := r.GetCase()
	var f fields
	f.add("Case", c.GetCaseId())
	f.add("Customer", c.GetCustomerId())
	f.add("State", stateName(c.GetState()))
	f.add("Severity", severityName(c.GetSeverity()))
	rule := c.GetRule()
	if others := slices.DeleteFunc(slices.Clone(c.GetMatchedRules()), func(s string) bool { return s == c.GetRule() }); len(others) > 0 {
		rule += " (also " + strings.Join(others, ", ") + ")"
	}
	f.add("Rule", rule)
	f.add("Summary", c.GetSummary())
	f.add("Tier", strings.TrimSpace(c.GetTier()+" "+parenthesize(short(c.GetValueLevel().String(), "VALUE_LEVEL_"), " value")))
	f.add("Where", strings.Trim(c.GetChannel()+" / "+c.GetTouchpoint(), " /"))
	f.add("Labels", labels(c.GetLabels()))
	f.add("Events", fmt.Sprintf("%d (first %s, latest %s)", c.GetEventCount(), c.GetFirstEventId(), c.GetLatestEventId()))
	f.add("Experience", num(c.GetOpeningExperienceScore())+" when opened")
	f.add("Opened", k.at(c.GetOpenedAt()))
	f.add("Acknowledge by", deadline(c.GetAcknowledgeBy(), c.GetAcknowledgedAt(), k))
	f.add("Resolve by", deadline(c.GetResolveBy(), c.GetResolvedAt(), k))
	if c.GetEscalationLevel() > 0 {
		f.add("Escalation", fmt.Sprintf("level %d", c.GetEscalationLevel()))
	}
	if c.GetAcknowledgedBy() != "" {
		f.add("Acknowledged", c.GetAcknowledgedBy()+" at "+k.at(c.GetAcknowledgedAt()))
	}
	if c.GetResolvedBy() != "" {
		f.add("Resolved", c.GetResolvedBy()+" at "+k.at(c.GetResolvedAt()))
	}
	if res := c.GetResolution(); res != nil {
		f.add("Root cause", res.GetRootCause())
		f.add("Actions", actions(res.GetActions()))
	}
	if o := c.GetOutcome(); o != nil {
		verdict := "not recovered"
		if o.GetRecovered() {
			verdict = "recovered"
		}
		f.add("Outcome", fmt.Sprintf("%s: experience %s → %s (%s, %s)", verdict,
			num(o.GetExperienceScoreBefore()), num(o.GetExperienceScoreAfter()), o.GetEventId(), k.at(o.GetMeasuredAt())))
	}
	if err := f.render(w); err != nil {
		return err
	}
	if len(r.GetHistory()) > 0 {
		fmt.Fprintln(w, "\nHistory:")
		t := newTable("  TIME", "CHANGE", "BY", "EVENT", "NOTE")
		for _, h := range r.GetHistory() {
			change := changeName(h.GetType())
			if h.GetInhibited() {
				change += " (not notified)"
			}
			t.add("  "+k.atSeconds(h.GetOccurredAt()), change, h.GetActor(), h.GetEventId(), h.GetNote())
		}
		if err := t.render(w); err != nil {
			return err
		}
	}
	if len(r.GetNotifications()) > 0 {
		fmt.Fprintln(w, "\nNotifications:")
		t := newTable("  RECEIVER", "FOR", "SENT", "RESULT", "ATTEMPTS", "ERROR")
		for _, n := range r.GetNotifications() {
			result := "failed"
			if n.GetSuccess() {
				result = "delivered"
			}
			t.add("  "+n.GetReceiver(), changeName(n.GetTrigger()), k.atSeconds(n.GetSentAt()), result,
				fmt.Sprint(n.GetAttempts()), truncate(n.GetError(), 60))
		}
		if err := t.render(w); err != nil {
			return err
		}
	}
	return nil
}

// deadline shows a due time and, until it is met, how far away it is.
func deadline(due, met *timestamppb.Timestamp, k clock) string {
	if due == nil {
		return ""
	}
	if met != nil {
		verdict := "met"
		if met.AsTime().After(due.AsTime()) {
			verdict = "missed"
		}
		return k.at(due) + " (" + verdict + ")"
	}
	return k.at(due) + " (" + k.due(due) + ")"
}

func parenthesize(s, suffix string) string {
	if s == "" {
		return ""
	}
	return "(" + s + suffix + ")"
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, " ")
}

// actions lists recovery actions: "apology; compensation 10.00 USD; fix: ...".
func actions(as []*alertingv1.RecoveryAction) string {
	parts := make([]string, 0, len(as))
	for _, x := range as {
		s := short(x.GetType().String(), "RECOVERY_ACTION_TYPE_")
		if m := formatMoney(x.GetCompensation()); m != "" {
			s += " " + m
		}
		if x.GetNote() != "" {
			s += ": " + x.GetNote()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// addByFlag adds --by; who fills it from FEEDLOOP_USER or the login name
// when it is not given, so a person need not type their name every time.
func addByFlag(cmd *cobra.Command, by *string) {
	cmd.Flags().StringVar(by, "by", "", "who does it (default $FEEDLOOP_USER, else $USER)")
}

func (a *app) who(by string) (string, error) {
	for _, v := range []string{by, a.getenv("FEEDLOOP_USER"), a.getenv("USER")} {
		if v = strings.TrimSpace(v); v != "" {
			return v, nil
		}
	}
	return "", usagef("--by NAME is required (or set FEEDLOOP_USER)")
}

func (a *app) alertsAckCmd() *cobra.Command {
	var by string
	cmd := &cobra.Command{
		Use:     "ack ID [--by NAME]",
		Aliases: []string{"acknowledge"},
		Short:   "Acknowledge a case: you own it now",
		Example: "  feedctl alerts ack 01J2Z3... --by olivia",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := a.who(by)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.alerting, alertingv1.AlertingServiceClient.AcknowledgeAlert,
				&alertingv1.AcknowledgeAlertRequest{CaseId: args[0], By: who})
			if err != nil {
				return err
			}
			return a.printCase(cmd.OutOrStdout(), "acknowledged", resp.GetCase(), resp)
		},
	}
	addByFlag(cmd, &by)
	return cmd
}

// printCase confirms a change: one line for a person, the response for a
// script.
func (a *app) printCase(w io.Writer, verb string, c *alertingv1.RecoveryCase, resp proto.Message) error {
	if a.json() {
		return printJSON(w, resp)
	}
	line := fmt.Sprintf("case %s %s (%s, %s)", c.GetCaseId(), verb, severityName(c.GetSeverity()), c.GetCustomerId())
	if next := nextDeadline(c, a.clock); next != "" {
		line += "; " + next
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

type resolveFlags struct {
	by, rootCause            string
	apology                  bool
	fix, compensation, other string
	compensationNote         string
}

// request builds the resolution; at least one action is required.
func (f resolveFlags) request(id, by string) (*alertingv1.ResolveAlertRequest, error) {
	if strings.TrimSpace(f.rootCause) == "" {
		return nil, usagef("--root-cause TEXT is required: what caused the bad experience")
	}
	res := &alertingv1.Resolution{RootCause: f.rootCause}
	if f.apology {
		res.Actions = append(res.Actions, &alertingv1.RecoveryAction{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY})
	}
	if f.fix != "" {
		res.Actions = append(res.Actions, &alertingv1.RecoveryAction{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_FIX, Note: f.fix})
	}
	if f.compensation != "" {
		m, err := parseMoney(f.compensation)
		if err != nil {
			return nil, usagef("--compensation: %v", err)
		}
		res.Actions = append(res.Actions, &alertingv1.RecoveryAction{
			Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION, Compensation: m, Note: f.compensationNote})
	} else if f.compensationNote != "" {
		return nil, usagef("--compensation-note needs --compensation AMOUNT")
	}
	if f.other != "" {
		res.Actions = append(res.Actions, &alertingv1.RecoveryAction{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_OTHER, Note: f.other})
	}
	if len(res.Actions) == 0 {
		return nil, usagef("give at least one recovery action: --apology, --fix TEXT, --compensation AMOUNT or --other TEXT")
	}
	return &alertingv1.ResolveAlertRequest{CaseId: id, By: by, Resolution: res}, nil
}

func (a *app) alertsResolveCmd() *cobra.Command {
	var f resolveFlags
	cmd := &cobra.Command{
		Use:   "resolve ID --root-cause TEXT (--apology | --fix TEXT | --compensation AMOUNT | --other TEXT)...",
		Short: "Resolve a case with the recovery actions taken and the root cause",
		Example: `  feedctl alerts resolve 01J2Z3... --by olivia --root-cause "courier lost the parcel" \
      --apology --compensation 10.00USD --fix "re-shipped express"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := a.who(f.by)
			if err != nil {
				return err
			}
			req, err := f.request(args[0], who)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.alerting, alertingv1.AlertingServiceClient.ResolveAlert, req)
			if err != nil {
				return err
			}
			return a.printCase(cmd.OutOrStdout(), "resolved", resp.GetCase(), resp)
		},
	}
	addByFlag(cmd, &f.by)
	cmd.Flags().StringVar(&f.rootCause, "root-cause", "", "what caused the bad experience (required)")
	cmd.Flags().BoolVar(&f.apology, "apology", false, "the customer got an apology")
	cmd.Flags().StringVar(&f.fix, "fix", "", "what was fixed")
	cmd.Flags().StringVar(&f.compensation, "compensation", "", "what the customer received, e.g. 10.00USD")
	cmd.Flags().StringVar(&f.compensationNote, "compensation-note", "", "a note on the compensation, e.g. voucher code")
	cmd.Flags().StringVar(&f.other, "other", "", "any other recovery action")
	return cmd
}

func (a *app) alertsReopenCmd() *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:     "reopen ID [--by NAME] [--reason TEXT]",
		Short:   "Reopen a resolved case",
		Example: `  feedctl alerts reopen 01J2Z3... --by olivia --reason "the parcel is still missing"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who, err := a.who(by)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.alerting, alertingv1.AlertingServiceClient.ReopenAlert,
				&alertingv1.ReopenAlertRequest{CaseId: args[0], By: who, Reason: reason})
			if err != nil {
				return err
			}
			return a.printCase(cmd.OutOrStdout(), "reopened", resp.GetCase(), resp)
		},
	}
	addByFlag(cmd, &by)
	cmd.Flags().StringVar(&reason, "reason", "", "why it is reopened")
	return cmd
}

func (a *app) alertsWatchCmd() *cobra.Command {
	var minSeverity, resume string
	cmd := &cobra.Command{
		Use:   "watch [--min-severity high] [--resume CURSOR]",
		Short: "Print case changes live until Ctrl-C",
		Long: `Print every case change as it happens, one line each, until Ctrl-C. Each
line starts with its cursor; on exit the last one is printed so a later
watch can carry on where this one stopped with --resume CURSOR. A lost
connection is retried from the last cursor, so no change is missed.
With -o json each change is one line of protojson (JSON Lines).`,
		Example: `  feedctl alerts watch --min-severity high
  feedctl alerts watch --resume 1042`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &alertingv1.WatchAlertsRequest{ResumeAfter: resume}
			if minSeverity != "" {
				n, err := severities.parse(minSeverity)
				if err != nil {
					return usagef("--min-severity: %v", err)
				}
				req.MinSeverity = alertingv1.Severity(n)
			}
			return a.watch(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), req)
		},
	}
	cmd.Flags().StringVar(&minSeverity, "min-severity", "", "only cases at or above: "+strings.Join(severities.names(), ", "))
	cmd.Flags().StringVar(&resume, "resume", "", "carry on after this cursor")
	_ = cmd.RegisterFlagCompletionFunc("min-severity", fixedCompletion(severities.names()...))
	return cmd
}

// watch streams changes until ctx ends, reconnecting after a lost
// connection from the last cursor seen.
func (a *app) watch(ctx context.Context, out, errOut io.Writer, req *alertingv1.WatchAlertsRequest) error {
	svc, err := a.alerting()
	if err != nil {
		return err
	}
	last := req.GetResumeAfter()
	defer func() {
		if last != "" {
			fmt.Fprintf(errOut, "last cursor %s: resume with feedctl alerts watch --resume %s\n", last, last)
		}
	}()
	backoff := time.Second
	for {
		req.ResumeAfter = last
		err := a.watchOnce(ctx, svc, out, errOut, req, &last)
		if ctx.Err() != nil {
			return nil // Ctrl-C: the normal way to stop
		}
		if status.Code(err) != codes.Unavailable {
			return err
		}
		fmt.Fprintf(errOut, "%v; reconnecting in %s\n", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (a *app) watchOnce(ctx context.Context, svc alertingv1.AlertingServiceClient, out, errOut io.Writer, req *alertingv1.WatchAlertsRequest, last *string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := svc.WatchAlerts(ctx, req)
	if err != nil {
		return err
	}
	// The server sends its headers once the watch is in place.
	if _, err := stream.Header(); err != nil {
		return err
	}
	fmt.Fprintln(errOut, "watching case changes (Ctrl-C to stop)")
	for {
		ch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Unavailable, "the server ended the watch")
		}
		if err != nil {
			return err
		}
		*last = ch.GetCursor()
		if a.json() {
			err = printJSONLine(out, ch)
		} else {
			_, err = fmt.Fprintln(out, watchLine(ch, a.clock))
		}
		if err != nil {
			return err
		}
	}
}

// watchLine is one change: cursor, time, change, severity, state, case,
// customer and summary, in columns wide enough for the usual values.
func watchLine(ch *alertingv1.WatchAlertsResponse, k clock) string {
	c := ch.GetCase()
	return strings.TrimRight(fmt.Sprintf("%-6s %s  %-16s %-9s %-12s %s  %s  %s",
		ch.GetCursor(), k.atSeconds(ch.GetOccurredAt()), changeName(ch.GetType()), severityName(c.GetSeverity()),
		stateName(c.GetState()), c.GetCaseId(), c.GetCustomerId(), c.GetSummary()), " ")
}

func (a *app) alertsBacktestCmd() *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "backtest RULES.yaml [--days 7]",
		Short: "Count the cases a candidate rule file would have opened over the last days",
		Long: `Replay the last days of evaluated events against a candidate rule file (the
format of the alerting service's rules) and count, per rule, the events it
matches and the cases it would open after grouping and cool-down. Nothing is
opened. The default --timeout is raised to 5m: a long replay takes time.`,
		Example: "  feedctl alerts backtest deploy/rules/strict.yaml --days 14",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 {
				return usagef("--days %d: want 1 or more", days)
			}
			var rules []byte
			var err error
			if args[0] == "-" {
				rules, err = io.ReadAll(cmd.InOrStdin())
			} else {
				rules, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			svc, err := a.alerting()
			if err != nil {
				return err
			}
			timeout := a.timeout
			if !cmd.Flags().Changed("timeout") {
				timeout = 5 * time.Minute
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := svc.BacktestRules(ctx, &alertingv1.BacktestRulesRequest{
				RulesYaml: string(rules),
				Lookback:  durationpb.New(time.Duration(days) * 24 * time.Hour),
			})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderBacktest(cmd.OutOrStdout(), resp, days)
		},
	}
	cmd.Flags().IntVar(&days, "days", 7, "how many days back to replay")
	return cmd
}

func renderBacktest(w io.Writer, r *alertingv1.BacktestRulesResponse, days int) error {
	t := newTable("RULE", "MATCHES", "CASES", "CUSTOMERS")
	for _, x := range r.GetRules() {
		t.add(x.GetRule(), itoa(x.GetMatches()), itoa(x.GetCases()), itoa(x.GetDistinctCustomers()))
	}
	if err := t.render(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d events of the last %d days replayed: %d cases in all\n", r.GetEventsReplayed(), days, r.GetTotalCases())
	return err
}

func (a *app) recoveryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recovery",
		Short: "How well recovery works",
	}
	var since string
	report := &cobra.Command{
		Use:   "report [--since 30d]",
		Short: "Cases opened, time to acknowledge and resolve, SLA met and recovery rate",
		Example: `  feedctl recovery report
  feedctl recovery report --since 7d -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := parseWindow(since)
			if err != nil {
				return usagef("--since: %v", err)
			}
			end := a.clock.now()
			resp, err := call(cmd.Context(), a, a.alerting, alertingv1.AlertingServiceClient.GetRecoveryReport,
				&alertingv1.GetRecoveryReportRequest{StartTime: timestamppb.New(end.Add(-d)), EndTime: timestamppb.New(end)})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderRecovery(cmd.OutOrStdout(), resp)
		},
	}
	report.Flags().StringVar(&since, "since", "30d", "cases opened in this long before now, e.g. 7d, 12w")
	cmd.AddCommand(report)
	return cmd
}

func renderRecovery(w io.Writer, r *alertingv1.GetRecoveryReportResponse) error {
	header := []string{"OPENED", "ACKED", "RESOLVED", "ESCALATED", "ACK p50", "ACK p90", "RESOLVE p50", "RESOLVE p90", "ACK SLA", "RESOLVE SLA", "OUTCOMES", "RECOVERED"}
	cells := func(s *alertingv1.SeveritySummary) []string {
		recovered := "-"
		if s.GetOutcomesMeasured() > 0 {
			recovered = pct(s.GetRecoveryRate())
		}
		// The SLA shares are of resolved cases: none resolved, none known.
		ackSLA, resolveSLA := "-", "-"
		if s.GetResolved() > 0 {
			ackSLA, resolveSLA = pct(s.GetAcknowledgeSlaMet()), pct(s.GetResolveSlaMet())
		}
		return []string{itoa(s.GetOpened()), itoa(s.GetAcknowledged()), itoa(s.GetResolved()), itoa(s.GetEscalated()),
			span(s.GetMedianTimeToAcknowledge()), span(s.GetP90TimeToAcknowledge()),
			span(s.GetMedianTimeToResolve()), span(s.GetP90TimeToResolve()),
			ackSLA, resolveSLA, itoa(s.GetOutcomesMeasured()), recovered}
	}
	t := newTable(append([]string{"SEVERITY"}, header...)...)
	t.add(append([]string{"all"}, cells(r.GetTotal())...)...)
	for _, s := range r.GetBySeverity() {
		t.add(append([]string{severityName(s.GetSeverity())}, cells(s)...)...)
	}
	if err := t.render(w); err != nil {
		return err
	}
	if len(r.GetByTier()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t = newTable(append([]string{"TIER"}, header...)...)
	for _, x := range r.GetByTier() {
		t.add(append([]string{x.GetTier()}, cells(x.GetSummary())...)...)
	}
	return t.render(w)
}
