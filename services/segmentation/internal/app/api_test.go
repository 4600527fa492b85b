package app_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/segmentation/internal/app"
)

// population publishes n customers with random spend, rhythm and feedback
// and returns every profile, read back.
func population(t *testing.T, h *harness, n int) []*segmentationv1.CustomerProfile {
	rng := rand.New(rand.NewPCG(7, 8))
	var outs []bus.Outgoing
	for c := range n {
		id := fmt.Sprintf("cust-%02d", c)
		every := time.Duration(1+rng.IntN(60)) * day
		last := t0.Add(-time.Duration(rng.IntN(300)) * day)
		for i := range 1 + rng.IntN(12) {
			outs = append(outs, purchase("tenant-a", id, fmt.Sprintf("%s-p%d", id, i), last.Add(-time.Duration(i)*every), int64(rng.IntN(40_000)), "USD"))
		}
		if rng.IntN(3) > 0 {
			outs = append(outs, feedback{tenant: "tenant-a", customer: id, id: id + "-f", at: last,
				nps: scoringv1.NpsClass(1 + rng.IntN(3)), complaint: rng.IntN(5) == 0, satisfaction: rng.Float64() * 100, rated: 1}.out())
		}
	}
	h.publish(t, outs...)
	evaluated(t, h, len(outs))
	profiles := make([]*segmentationv1.CustomerProfile, n)
	for c := range n {
		profiles[c] = h.customer(t, keyA, fmt.Sprintf("cust-%02d", c))
	}
	return profiles
}

// pages lists every page of req, page_size at a time, and returns the ids.
func pages(t *testing.T, h *harness, req *segmentationv1.ListCustomersRequest) []string {
	t.Helper()
	var ids []string
	for range 100 {
		resp, err := h.client.ListCustomers(testkit.WithKey(keyA), req)
		if err != nil {
			t.Fatalf("ListCustomers(%v): %v", req, err)
		}
		for _, p := range resp.GetCustomers() {
			ids = append(ids, p.GetCustomerId())
		}
		if resp.GetNextPageToken() == "" {
			return ids
		}
		req = proto.CloneOf(req)
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatal("more than 100 pages")
	return nil
}

func TestListCustomersPagesThroughTheIndexes(t *testing.T) {
	h := start(t)
	profiles := population(t, h, 40)
	tiers := map[string]bool{}
	for _, p := range profiles {
		tiers[p.GetTier()] = true
	}
	if len(tiers) < 3 {
		t.Fatalf("the population falls into %d tiers; the test needs variety", len(tiers))
	}
	risk := func(p *segmentationv1.CustomerProfile) float64 { return p.GetChurnRisk().GetScore() }
	value := func(p *segmentationv1.CustomerProfile) float64 { return float64(p.GetMonetary().GetAmountMinor()) }
	for _, tc := range []struct {
		tier    string
		minRisk float64
		order   segmentationv1.CustomerOrder
	}{
		{"", 0, segmentationv1.CustomerOrder_CUSTOMER_ORDER_UNSPECIFIED},
		{"", 0.3, segmentationv1.CustomerOrder_CUSTOMER_ORDER_CHURN_RISK},
		{"", 0, segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE},
		{"", 0.3, segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE},
		{profiles[0].GetTier(), 0, segmentationv1.CustomerOrder_CUSTOMER_ORDER_CHURN_RISK},
		{profiles[0].GetTier(), 0.2, segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE},
		{"no-such-tier", 0, segmentationv1.CustomerOrder_CUSTOMER_ORDER_CHURN_RISK},
	} {
		t.Run(fmt.Sprintf("%s/%g/%s", tc.tier, tc.minRisk, tc.order), func(t *testing.T) {
			key := risk
			if tc.order == segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE {
				key = value
			}
			var want []string
			sorted := slices.Clone(profiles)
			slices.SortFunc(sorted, func(a, b *segmentationv1.CustomerProfile) int {
				return cmp.Or(cmp.Compare(key(b), key(a)), strings.Compare(b.GetCustomerId(), a.GetCustomerId()))
			})
			for _, p := range sorted {
				if (tc.tier == "" || p.GetTier() == tc.tier) && risk(p) >= tc.minRisk {
					want = append(want, p.GetCustomerId())
				}
			}
			got := pages(t, h, &segmentationv1.ListCustomersRequest{Tier: tc.tier, MinChurnRisk: tc.minRisk, OrderBy: tc.order, PageSize: 7})
			if !slices.Equal(got, want) {
				t.Errorf("pages\n got %v\nwant %v", got, want)
			}
		})
	}

	resp, err := h.client.ListCustomers(testkit.WithKey(keyA), &segmentationv1.ListCustomersRequest{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.ListCustomers(testkit.WithKey(keyA), &segmentationv1.ListCustomersRequest{PageSize: 5, PageToken: resp.GetNextPageToken(), OrderBy: segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE})
	if v := testkit.FieldViolations(t, err); v["page_token"] == "" {
		t.Errorf("a token used with another order: violations %v", v)
	}
	_, err = h.client.ListCustomers(testkit.WithKey(keyA), &segmentationv1.ListCustomersRequest{MinChurnRisk: 2, PageSize: 5000})
	if v := testkit.FieldViolations(t, err); v["min_churn_risk"] == "" || v["page_size"] == "" {
		t.Errorf("violations %v", v)
	}
}

func TestTierReportMatchesTheProfiles(t *testing.T) {
	h := start(t)
	profiles := population(t, h, 40)
	want := map[string]*segmentationv1.TierSummary{}
	rated := map[string]int{}
	for _, p := range profiles {
		s := want[p.GetTier()]
		if s == nil {
			s = &segmentationv1.TierSummary{Tier: p.GetTier()}
			want[p.GetTier()] = s
		}
		s.Customers++
		s.MeanChurnRisk += p.GetChurnRisk().GetScore()
		if p.GetFeedbackCount() > 0 {
			s.MeanSatisfaction += p.GetDecayedSatisfaction()
			rated[p.GetTier()]++
		}
		switch p.GetLatestNpsClass() {
		case scoringv1.NpsClass_NPS_CLASS_PROMOTER:
			s.Promoters++
		case scoringv1.NpsClass_NPS_CLASS_PASSIVE:
			s.Passives++
		case scoringv1.NpsClass_NPS_CLASS_DETRACTOR:
			s.Detractors++
		}
		switch p.GetValueLevel() {
		case segmentationv1.ValueLevel_VALUE_LEVEL_HIGH:
			s.HighValue++
		case segmentationv1.ValueLevel_VALUE_LEVEL_MEDIUM:
			s.MediumValue++
		default:
			s.LowValue++
		}
	}
	resp, err := h.client.GetTierReport(testkit.WithKey(keyA), &segmentationv1.GetTierReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCustomers() != 40 || len(resp.GetTiers()) != len(want) {
		t.Fatalf("report of %d customers in %d tiers, want 40 in %d: %v", resp.GetCustomers(), len(resp.GetTiers()), len(want), resp)
	}
	order := []string{"cannot-lose", "at-risk", "champion", "loyal", "new", "potential", "needs-attention", "hibernating", "lost"}
	for i, got := range resp.GetTiers() {
		if i > 0 && slices.Index(order, got.GetTier()) < slices.Index(order, resp.GetTiers()[i-1].GetTier()) {
			t.Errorf("tiers out of rule order: %s after %s", got.GetTier(), resp.GetTiers()[i-1].GetTier())
		}
		w := want[got.GetTier()]
		w.MeanChurnRisk /= float64(w.Customers)
		if n := rated[w.Tier]; n > 0 {
			w.MeanSatisfaction /= float64(n)
		}
		if answered := w.Promoters + w.Passives + w.Detractors; answered > 0 {
			w.Nps = proto.Float64(100 * float64(w.Promoters-w.Detractors) / float64(answered))
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-4 }
		if got.GetCustomers() != w.Customers || got.GetPromoters() != w.Promoters || got.GetPassives() != w.Passives ||
			got.GetDetractors() != w.Detractors || got.GetHighValue() != w.HighValue || got.GetMediumValue() != w.MediumValue ||
			got.GetLowValue() != w.LowValue || !near(got.GetMeanChurnRisk(), w.MeanChurnRisk) ||
			!near(got.GetMeanSatisfaction(), w.MeanSatisfaction) || (got.Nps == nil) != (w.Nps == nil) || !near(got.GetNps(), w.GetNps()) {
			t.Errorf("tier %s\n got %v\nwant %v", got.GetTier(), got, w)
		}
	}
}

func TestABrokenRuleFileFailsStartUp(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "tiers.yaml")
	if err := os.WriteFile(rules, []byte("tiers:\n  - name: gold\n    when: recncy >= 4\ndefault:\n  name: rest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	profiles := filepath.Join(dir, "segmentation.yaml")
	if err := os.WriteFile(profiles, []byte("tenants:\n  luxury:\n    monetary: [5, 1, 2, 3]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := config.FromMap(map[string]string{"FEEDLOOP_SEGMENTATION_TIERS": rules, "FEEDLOOP_SEGMENTATION_CONFIG": profiles})
	app.ConfigFromEnv(env)
	err := env.Err()
	for _, want := range []string{`FEEDLOOP_SEGMENTATION_TIERS: tier rules ` + rules + `: tier "gold"`, "undeclared reference to 'recncy'",
		`FEEDLOOP_SEGMENTATION_CONFIG: segmentation config ` + profiles + `: tenant "luxury": monetary must be positive and ascending`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to say %q", err, want)
		}
	}
}
