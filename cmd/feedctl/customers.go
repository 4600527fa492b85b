package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"
)

func (a *app) customerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "customer",
		Short: "One customer: profile, scores, erasure",
	}
	cmd.AddCommand(a.customerGetCmd(), a.customerScoresCmd(), a.customerEraseCmd())
	return cmd
}

func (a *app) customerGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show a customer's profile: tier, value, churn risk and why",
		Example: "  feedctl customer get c-1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := call(cmd.Context(), a, a.segmentation, segmentationv1.SegmentationServiceClient.GetCustomer,
				&segmentationv1.GetCustomerRequest{CustomerId: args[0]})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderProfile(cmd.OutOrStdout(), resp.GetProfile(), a.clock)
		},
	}
}

func renderProfile(w io.Writer, p *segmentationv1.CustomerProfile, c clock) error {
	var f fields
	f.add("Customer", p.GetCustomerId())
	tier := p.GetTier()
	if since := c.at(p.GetTierSince()); since != "" {
		tier += " (since " + since + ")"
	}
	f.add("Tier", tier)
	f.add("Value level", short(p.GetValueLevel().String(), "VALUE_LEVEL_"))
	f.add("Lifecycle", short(p.GetLifecycle().String(), "LIFECYCLE_STAGE_"))
	f.add("Churn risk", fmt.Sprintf("%.2f", p.GetChurnRisk().GetScore()))
	f.add("Satisfaction", fmt.Sprintf("%s (trend %s)", num(p.GetDecayedSatisfaction()), signed(p.GetSatisfactionTrend())))
	f.add("Latest NPS", short(p.GetLatestNpsClass().String(), "NPS_CLASS_"))
	purchases := fmt.Sprintf("%d (%d in 90d, %d in 365d)", p.GetPurchaseCount(), p.GetPurchases_90D(), p.GetPurchases_365D())
	if last := c.at(p.GetLastPurchaseAt()); last != "" {
		purchases += ", last " + last
	}
	f.add("Purchases", purchases)
	spend := formatMoney(p.GetMonetary())
	for _, m := range p.GetOtherMonetary() {
		spend += " + " + formatMoney(m)
	}
	f.add("Spend", spend)
	if r := p.GetRfm(); r != nil {
		f.add("RFM", fmt.Sprintf("R%d F%d M%d", r.GetRecency(), r.GetFrequency(), r.GetMonetary()))
	}
	f.add("Feedback", fmt.Sprintf("%d; detractors %d (30d) %d (90d); complaints %d (30d) %d (90d)",
		p.GetFeedbackCount(), p.GetDetractors_30D(), p.GetDetractors_90D(), p.GetComplaints_30D(), p.GetComplaints_90D()))
	f.add("First seen", c.at(p.GetFirstSeen()))
	f.add("Last seen", c.at(p.GetLastSeen()))
	f.add("Updated", c.at(p.GetUpdatedAt()))
	if err := f.render(w); err != nil {
		return err
	}
	if err := renderReasons(w, "Why this tier", p.GetTierReasons()); err != nil {
		return err
	}
	return renderReasons(w, "Churn risk", p.GetChurnRisk().GetReasons())
}

func renderReasons(w io.Writer, title string, reasons []*segmentationv1.Reason) error {
	if len(reasons) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	t := newTable("  REASON", "WEIGHT", "DESCRIPTION")
	for _, r := range reasons {
		t.add("  "+r.GetCode(), fmt.Sprintf("%.2f", r.GetContribution()), r.GetDescription())
	}
	return t.render(w)
}

func (a *app) customerScoresCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "scores ID",
		Short:   "Show a customer's rolling scores and their latest feedback's scores",
		Example: "  feedctl customer scores c-1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := call(cmd.Context(), a, a.scoring, scoringv1.ScoringServiceClient.GetCustomerScores,
				&scoringv1.GetCustomerScoresRequest{CustomerId: args[0]})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderScores(cmd.OutOrStdout(), resp.GetScores(), a.clock)
		},
	}
}

func renderScores(w io.Writer, s *scoringv1.CustomerScores, c clock) error {
	var f fields
	f.add("Customer", s.GetCustomerId())
	f.add("Satisfaction", fmt.Sprintf("%s (trend %s)", num(s.GetDecayedSatisfaction()), signed(s.GetSatisfactionTrend())))
	f.add("Feedback", fmt.Sprintf("%d: %d promoters, %d passives, %d detractors, %d complaints",
		s.GetFeedbackCount(), s.GetPromoterCount(), s.GetPassiveCount(), s.GetDetractorCount(), s.GetComplaintCount()))
	f.add("Last feedback", strings.TrimSpace(c.at(s.GetLastFeedbackAt())+" "+s.GetLastEventId()))
	if ls := s.GetLastScores(); ls != nil {
		f.add("Experience", num(ls.GetExperienceScore()))
		f.add("NPS class", short(ls.GetNpsClass().String(), "NPS_CLASS_"))
		if ls.Csat != nil {
			f.add("CSAT", num(ls.GetCsat()))
		}
		if ls.Ces != nil {
			f.add("CES", num(ls.GetCes()))
		}
		if se := ls.GetSentiment(); se != nil && se.GetLanguage() != "" {
			f.add("Sentiment", fmt.Sprintf("%+.2f (%s) %s", se.GetScore(), se.GetLanguage(), strings.Join(se.GetDrivers(), ", ")))
		}
		f.add("Complaint", short(ls.GetComplaintSeverity().String(), "COMPLAINT_SEVERITY_"))
	}
	if err := f.render(w); err != nil {
		return err
	}
	parts := s.GetLastScores().GetContributions()
	if len(parts) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nExperience score of the latest feedback:")
	t := newTable("  SIGNAL", "VALUE", "WEIGHT", "POINTS")
	for _, p := range parts {
		t.add("  "+p.GetSignal(), num(p.GetValue()), fmt.Sprintf("%.2f", p.GetWeight()), num(p.GetPoints()))
	}
	return t.render(w)
}

func (a *app) customerEraseCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "erase ID --yes",
		Short: "Erase everything feedloop holds about a customer (privacy)",
		Long: `Erase the customer's profile and index entries; scoring and alerting purge
theirs too. This cannot be undone, so it needs --yes. Erasing a customer
feedloop does not know succeeds and says so.`,
		Example: "  feedctl customer erase c-1 --yes",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("erasing %s cannot be undone: add --yes to confirm", args[0])
			}
			resp, err := call(cmd.Context(), a, a.segmentation, segmentationv1.SegmentationServiceClient.EraseCustomer,
				&segmentationv1.EraseCustomerRequest{CustomerId: args[0]})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			if !resp.GetErased() {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "nothing held about %s: nothing erased\n", args[0])
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "erased %s\n", args[0])
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the erasure")
	return cmd
}

func (a *app) customersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "customers",
		Short: "Lists of customers",
	}
	cmd.AddCommand(a.customersListCmd())
	return cmd
}

// customerOrders maps --order to the API's order.
var customerOrders = map[string]segmentationv1.CustomerOrder{
	"risk":  segmentationv1.CustomerOrder_CUSTOMER_ORDER_CHURN_RISK,
	"value": segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE,
}

type listCustomersFlags struct {
	tier    string
	minRisk float64
	order   string
	limit   int
}

func (f listCustomersFlags) request() (*segmentationv1.ListCustomersRequest, error) {
	order, ok := customerOrders[f.order]
	if !ok {
		return nil, usagef("--order %q: want risk or value", f.order)
	}
	if f.minRisk < 0 || f.minRisk > 1 {
		return nil, usagef("--min-risk %v: want 0 to 1", f.minRisk)
	}
	if f.limit < 0 {
		return nil, usagef("--limit %d: want 0 (all) or more", f.limit)
	}
	return &segmentationv1.ListCustomersRequest{Tier: f.tier, MinChurnRisk: f.minRisk, OrderBy: order, PageSize: pageSize(f.limit, 0)}, nil
}

// pageSize asks for what is still wanted, at most the API's 1000; limit 0
// means all.
func pageSize(limit, have int) int32 {
	if limit == 0 {
		return 1000
	}
	return int32(min(limit-have, 1000))
}

// listAll fetches page after page, each call bounded by --timeout, until it
// has limit items (0: all) or the last page is in. It returns the items, at
// most limit, and the next page's token: "" when nothing more matches.
func listAll[T any](ctx context.Context, a *app, limit int,
	page func(ctx context.Context, token string, size int32) ([]T, string, error)) ([]T, string, error) {
	var all []T
	token := ""
	for {
		callCtx, cancel := a.callCtx(ctx)
		items, next, err := page(callCtx, token, pageSize(limit, len(all)))
		cancel()
		if err != nil {
			return nil, "", err
		}
		all, token = append(all, items...), next
		if token == "" || (limit > 0 && len(all) >= limit) {
			break
		}
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, token, nil
}

func (a *app) customersListCmd() *cobra.Command {
	var f listCustomersFlags
	cmd := &cobra.Command{
		Use:   "list [--tier TIER] [--min-risk 0.5] [--order risk|value] [--limit N]",
		Short: "List customers of a tier or above a churn risk, riskiest or most valuable first",
		Example: `  feedctl customers list --tier at-risk
  feedctl customers list --min-risk 0.7 --order value --limit 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			svc, err := a.segmentation()
			if err != nil {
				return err
			}
			all := &segmentationv1.ListCustomersResponse{}
			all.Customers, all.NextPageToken, err = listAll(cmd.Context(), a, f.limit,
				func(ctx context.Context, token string, size int32) ([]*segmentationv1.CustomerProfile, string, error) {
					req.PageToken, req.PageSize = token, size
					resp, err := svc.ListCustomers(ctx, req)
					return resp.GetCustomers(), resp.GetNextPageToken(), err
				})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), all)
			}
			if len(all.Customers) == 0 {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "No customers match.")
				return err
			}
			if err := renderCustomers(cmd.OutOrStdout(), all.Customers, a.clock); err != nil {
				return err
			}
			if all.NextPageToken != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more customers match: raise --limit (0 for all)\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.tier, "tier", "", "only customers in this tier, e.g. at-risk")
	cmd.Flags().Float64Var(&f.minRisk, "min-risk", 0, "only customers with at least this churn risk (0-1)")
	cmd.Flags().StringVar(&f.order, "order", "risk", "risk (highest churn risk first) or value (highest spend first)")
	cmd.Flags().IntVar(&f.limit, "limit", 50, "at most this many customers; 0 for all")
	_ = cmd.RegisterFlagCompletionFunc("order", fixedCompletion("risk", "value"))
	return cmd
}

func renderCustomers(w io.Writer, cs []*segmentationv1.CustomerProfile, c clock) error {
	t := newTable("CUSTOMER", "TIER", "RISK", "VALUE", "LIFECYCLE", "SPEND", "SATISFACTION", "LAST SEEN")
	for _, p := range cs {
		t.add(p.GetCustomerId(), p.GetTier(), fmt.Sprintf("%.2f", p.GetChurnRisk().GetScore()),
			short(p.GetValueLevel().String(), "VALUE_LEVEL_"), short(p.GetLifecycle().String(), "LIFECYCLE_STAGE_"),
			formatMoney(p.GetMonetary()), num(p.GetDecayedSatisfaction()), c.at(p.GetLastSeen()))
	}
	return t.render(w)
}

func (a *app) tiersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tiers",
		Short: "Customer tiers",
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "report",
		Short:   "Customers, value, satisfaction, NPS and churn risk per tier",
		Example: "  feedctl tiers report",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := call(cmd.Context(), a, a.segmentation, segmentationv1.SegmentationServiceClient.GetTierReport,
				&segmentationv1.GetTierReportRequest{})
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderTiers(cmd.OutOrStdout(), resp)
		},
	})
	return cmd
}

func renderTiers(w io.Writer, r *segmentationv1.GetTierReportResponse) error {
	t := newTable("TIER", "CUSTOMERS", "HIGH", "MEDIUM", "LOW", "SATISFACTION", "NPS", "PROMOTERS", "PASSIVES", "DETRACTORS", "CHURN RISK")
	for _, s := range r.GetTiers() {
		t.add(s.GetTier(), itoa(s.GetCustomers()), itoa(s.GetHighValue()), itoa(s.GetMediumValue()), itoa(s.GetLowValue()),
			num(s.GetMeanSatisfaction()), opt(s.Nps), itoa(s.GetPromoters()), itoa(s.GetPassives()), itoa(s.GetDetractors()),
			fmt.Sprintf("%.2f", s.GetMeanChurnRisk()))
	}
	if err := t.render(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d customers\n", r.GetCustomers())
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (a *app) reportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Customer-experience reports",
	}
	cmd.AddCommand(a.reportNPSCmd())
	return cmd
}

type experienceFlags struct {
	window, channel, touchpoint, by string
	split                           []string
}

// request builds GetExperienceReport's request for the window ending now.
func (f experienceFlags) request(c clock) (*scoringv1.GetExperienceReportRequest, error) {
	d, err := parseWindow(f.window)
	if err != nil {
		return nil, usagef("--window: %v", err)
	}
	end := c.now()
	req := &scoringv1.GetExperienceReportRequest{
		StartTime:  timestamppb.New(end.Add(-d)),
		EndTime:    timestamppb.New(end),
		Touchpoint: f.touchpoint,
	}
	if f.channel != "" {
		ch, err := channels.parse(f.channel)
		if err != nil {
			return nil, usagef("--channel: %v", err)
		}
		req.Channel = intakev1.Channel(ch)
	}
	switch f.by {
	case "":
	case "hour":
		req.Granularity = scoringv1.Granularity_GRANULARITY_HOUR
	case "day":
		req.Granularity = scoringv1.Granularity_GRANULARITY_DAY
	default:
		return nil, usagef("--by %q: want hour or day", f.by)
	}
	for _, s := range f.split {
		switch s {
		case "channel":
			req.GroupByChannel = true
		case "touchpoint":
			req.GroupByTouchpoint = true
		default:
			return nil, usagef("--split %q: want channel, touchpoint or both", s)
		}
	}
	return req, nil
}

func (a *app) reportNPSCmd() *cobra.Command {
	var f experienceFlags
	cmd := &cobra.Command{
		Use:     "nps [--window 7d] [--touchpoint T] [--channel C] [--by day|hour] [--split channel,touchpoint]",
		Aliases: []string{"experience"},
		Short:   "NPS, CSAT, CES, SERVQUAL gaps, sentiment and complaints over a window",
		Example: `  feedctl report nps --window 7d --touchpoint delivery
  feedctl report nps --window 30d --by day --split channel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request(a.clock)
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, a.scoring, scoringv1.ScoringServiceClient.GetExperienceReport, req)
			if err != nil {
				return err
			}
			if a.json() {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			return renderExperience(cmd.OutOrStdout(), req, resp, a.clock)
		},
	}
	cmd.Flags().StringVar(&f.window, "window", "7d", "how far back from now, e.g. 24h, 7d, 4w")
	cmd.Flags().StringVar(&f.touchpoint, "touchpoint", "", "only this touchpoint")
	cmd.Flags().StringVar(&f.channel, "channel", "", "only this channel: "+strings.Join(channels.names(), ", "))
	cmd.Flags().StringVar(&f.by, "by", "", "rows per hour or day")
	cmd.Flags().StringSliceVar(&f.split, "split", nil, "rows per channel and/or touchpoint")
	_ = cmd.RegisterFlagCompletionFunc("channel", fixedCompletion(channels.names()...))
	_ = cmd.RegisterFlagCompletionFunc("by", fixedCompletion("hour", "day"))
	_ = cmd.RegisterFlagCompletionFunc("split", fixedCompletion("channel", "touchpoint"))
	return cmd
}

func renderExperience(w io.Writer, req *scoringv1.GetExperienceReportRequest, r *scoringv1.GetExperienceReportResponse, c clock) error {
	var f fields
	f.add("Window", c.at(req.GetStartTime())+" to "+c.at(req.GetEndTime()))
	scope := []string{}
	if req.GetChannel() != intakev1.Channel_CHANNEL_UNSPECIFIED {
		scope = append(scope, "channel "+short(req.GetChannel().String(), "CHANNEL_"))
	}
	if req.GetTouchpoint() != "" {
		scope = append(scope, "touchpoint "+req.GetTouchpoint())
	}
	f.add("Only", strings.Join(scope, ", "))
	s := r.GetTotal()
	f.add("Responses", itoa(s.GetResponses()))
	nps := opt(s.Nps)
	if s.NpsMarginOfError != nil {
		nps += " ± " + num(s.GetNpsMarginOfError())
	}
	f.add("NPS", fmt.Sprintf("%s (%d promoters, %d passives, %d detractors)", nps, s.GetPromoters(), s.GetPassives(), s.GetDetractors()))
	f.add("CSAT", opt(s.Csat)+" / 100")
	f.add("CES", opt(s.Ces)+" / 100 (100 = least effort)")
	f.add("Experience", opt(s.ExperienceScore)+" / 100")
	f.add("Sentiment", opt(s.Sentiment))
	f.add("Complaints", fmt.Sprintf("%d (%s of responses)", s.GetComplaints(), pct(s.GetComplaintRate())))
	f.add("SERVQUAL gaps", servqualGaps(s.GetServqual(), s.GetWeakestDimension()))
	if err := f.render(w); err != nil {
		return err
	}
	if len(r.GetRows()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable("BUCKET", "CHANNEL", "TOUCHPOINT", "RESPONSES", "NPS", "±", "CSAT", "CES", "EXPERIENCE", "SENTIMENT", "COMPLAINTS")
	for _, row := range r.GetRows() {
		s := row.GetSummary()
		bucket := c.at(row.GetBucketStart())
		if bucket == "" {
			bucket = "total"
		}
		t.add(bucket, short(row.GetChannel().String(), "CHANNEL_"), row.GetTouchpoint(), itoa(s.GetResponses()),
			opt(s.Nps), opt(s.NpsMarginOfError), opt(s.Csat), opt(s.Ces), opt(s.ExperienceScore), opt(s.Sentiment), itoa(s.GetComplaints()))
	}
	return t.render(w)
}

// servqualGaps lists the rated dimensions' gaps and names the weakest.
func servqualGaps(g *scoringv1.ServqualGaps, weakest string) string {
	if g == nil {
		return ""
	}
	var parts []string
	for _, d := range []struct {
		name string
		v    *float64
	}{
		{"reliability", g.Reliability}, {"responsiveness", g.Responsiveness}, {"assurance", g.Assurance},
		{"empathy", g.Empathy}, {"tangibles", g.Tangibles}, {"weighted", g.Weighted},
	} {
		if d.v != nil {
			parts = append(parts, d.name+" "+signed(*d.v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	out := strings.Join(parts, ", ")
	if weakest != "" {
		out += " (weakest: " + weakest + ")"
	}
	return out
}
