package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// eventually retries check every 20 ms until it passes or timeout ends,
// then fails the test with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAValuableDetractorOpensACriticalCaseWithinTwoSeconds(t *testing.T) {
	s := start(t)
	s.send([]event{purchase("vip-1", "p-1", 250_000)}, 1, 30*time.Second)
	eventually(t, 30*time.Second, "vip-1 becomes high value", func() error {
		r, err := s.segmentation.GetCustomer(ctx(), &segmentationv1.GetCustomerRequest{CustomerId: "vip-1"})
		if err != nil {
			return err
		}
		if v := r.GetProfile().GetValueLevel(); v != segmentationv1.ValueLevel_VALUE_LEVEL_HIGH {
			return fmt.Errorf("value level %s", v)
		}
		return nil
	})
	watch, err := s.alerting.WatchAlerts(ctx(), &alertingv1.WatchAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan *alertingv1.WatchAlertsResponse, 16)
	go func() {
		for {
			r, err := watch.Recv()
			if err != nil {
				close(seen)
				return
			}
			seen <- r
		}
	}()

	// The feedback also moves vip-1 into at-risk: the tier change may open
	// the case (high) and the feedback raise it, or the other way round.
	// Either way the case is critical within 2 s.
	sent := time.Now()
	s.send([]event{feedback("vip-1", "f-1", 2, true), feedback("casual-1", "f-2", 10, false)}, 1, 10*time.Second)
	critical := false
	for !critical {
		select {
		case r, ok := <-seen:
			if !ok {
				t.Fatal("the watch ended")
			}
			if r.GetCase().GetCustomerId() != "vip-1" {
				t.Fatalf("a change of another customer's case: %v", r)
			}
			critical = r.GetCase().GetSeverity() == alertingv1.Severity_SEVERITY_CRITICAL
		case <-time.After(2*time.Second - time.Since(sent)):
			t.Fatal("no critical case on WatchAlerts within 2s")
		}
	}
	t.Logf("critical case on WatchAlerts %s after the feedback was submitted", time.Since(sent).Round(time.Millisecond))
	eventually(t, 2*time.Second-time.Since(sent), "the webhook receives the critical case", func() error {
		for _, b := range s.hook.bodies() {
			var body struct {
				Data struct {
					CustomerID string `json:"customer_id"`
					Severity   string `json:"severity"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(b), &body) == nil && body.Data.Severity == "critical" {
				if body.Data.CustomerID != "vip-1" {
					return fmt.Errorf("a case of %s", body.Data.CustomerID)
				}
				return nil
			}
		}
		return errors.New("not yet")
	})
	t.Logf("critical case at the webhook %s after the feedback was submitted", time.Since(sent).Round(time.Millisecond))

	s.settle(30 * time.Second)
	list, err := s.alerting.ListAlerts(ctx(), &alertingv1.ListAlertsRequest{CustomerId: "casual-1"})
	if err != nil || len(list.GetCases()) != 0 {
		t.Errorf("a low-value promoter's cases: %v, %v; want none", list.GetCases(), err)
	}
}

func TestTheSameEventFiveTimesCountsOnce(t *testing.T) {
	s := start(t)
	e := feedback("dup-1", "same-event", 1, true)
	for range 5 {
		s.send([]event{e}, 1, 10*time.Second)
	}
	s.settle(30 * time.Second)
	profile, err := s.segmentation.GetCustomer(ctx(), &segmentationv1.GetCustomerRequest{CustomerId: "dup-1"})
	if err != nil || profile.GetProfile().GetFeedbackCount() != 1 || profile.GetProfile().GetComplaints_90D() != 1 {
		t.Errorf("profile %v, %v; want one feedback, one complaint", profile.GetProfile(), err)
	}
	scores, err := s.scoring.GetCustomerScores(ctx(), &scoringv1.GetCustomerScoresRequest{CustomerId: "dup-1"})
	if err != nil || scores.GetScores().GetFeedbackCount() != 1 || scores.GetScores().GetDetractorCount() != 1 {
		t.Errorf("scores %v, %v; want one feedback", scores.GetScores(), err)
	}
	report, err := s.scoring.GetExperienceReport(ctx(), &scoringv1.GetExperienceReportRequest{})
	if err != nil || report.GetTotal().GetResponses() != 1 {
		t.Errorf("report %v, %v; want one response", report.GetTotal(), err)
	}
	tiers, err := s.segmentation.GetTierReport(ctx(), &segmentationv1.GetTierReportRequest{})
	if err != nil || tiers.GetCustomers() != 1 {
		t.Errorf("tier report %v, %v; want one customer", tiers, err)
	}
	list, err := s.alerting.ListAlerts(ctx(), &alertingv1.ListAlertsRequest{CustomerId: "dup-1"})
	if err != nil || len(list.GetCases()) != 1 || list.GetCases()[0].GetEventCount() != 1 {
		t.Errorf("cases %v, %v; want one case of one event", list.GetCases(), err)
	}
}

func TestInvalidEventsAreRejectedAndNeverEnter(t *testing.T) {
	s := start(t)
	bad := feedback("bad-1", "bad-event", 11, false).feedback
	_, err := s.intake.SubmitFeedback(ctx(), &intakev1.SubmitFeedbackRequest{Feedback: bad})
	if _, ok := testkit.FieldViolations(t, err)["feedback.nps"]; !ok {
		t.Errorf("NPS 11: %v, want InvalidArgument naming feedback.nps", err)
	}
	noCustomer := feedback("", "no-customer", 5, false).feedback
	resp, err := s.intake.SubmitFeedbackBatch(ctx(), &intakev1.SubmitFeedbackBatchRequest{Items: []*intakev1.Feedback{
		feedback("good-1", "good-event", 9, false).feedback, noCustomer,
	}})
	if err != nil || resp.GetAcceptedCount() != 1 || resp.GetResults()[1].GetError().GetCode() != int32(codes.InvalidArgument) {
		t.Errorf("a batch with one invalid item: %v, %v", resp, err)
	}
	s.settle(30 * time.Second)
	stored := testkit.StreamMessages(t, s.js, "FEEDBACK")
	if len(stored) != 1 {
		t.Errorf("%d events on FEEDBACK, want only the valid one", len(stored))
	}
	for _, name := range []string{"SCORED", "CUSTOMERS"} {
		for _, m := range testkit.StreamMessages(t, s.js, name) {
			if strings.Contains(string(m.Data), "bad-event") || strings.Contains(string(m.Data), "no-customer") {
				t.Errorf("an invalid event reached %s", name)
			}
		}
	}
	if dl := testkit.StreamMessages(t, s.js, "DEADLETTER"); len(dl) != 0 {
		t.Errorf("%d dead letters", len(dl))
	}
}

// checkExact compares every customer's profile and scores with what they
// were sent, and wants nothing dead-lettered.
func (s *system) checkExact(sent map[string]*counts) {
	s.t.Helper()
	wrong := 0
	for customer, want := range sent {
		p, err := s.segmentation.GetCustomer(ctx(), &segmentationv1.GetCustomerRequest{CustomerId: customer})
		if err != nil {
			s.t.Fatalf("GetCustomer %s: %v", customer, err)
		}
		sc, err := s.scoring.GetCustomerScores(ctx(), &scoringv1.GetCustomerScoresRequest{CustomerId: customer})
		if err != nil {
			s.t.Fatalf("GetCustomerScores %s: %v", customer, err)
		}
		got := counts{p.GetProfile().GetFeedbackCount(), p.GetProfile().GetPurchaseCount()}
		if got != *want || sc.GetScores().GetFeedbackCount() != want.feedback {
			if wrong++; wrong <= 5 {
				s.t.Errorf("%s: profile %+v, scores %d feedback; sent %+v", customer, got, sc.GetScores().GetFeedbackCount(), *want)
			}
		}
	}
	if wrong > 0 {
		s.t.Errorf("%d of %d customers differ from what was sent", wrong, len(sent))
	}
	report, err := s.scoring.GetExperienceReport(ctx(), &scoringv1.GetExperienceReportRequest{})
	var feedback int64
	for _, c := range sent {
		feedback += c.feedback
	}
	if err != nil || report.GetTotal().GetResponses() != feedback {
		s.t.Errorf("report: %d responses, %v; sent %d", report.GetTotal().GetResponses(), err, feedback)
	}
	if dl := testkit.StreamMessages(s.t, s.js, "DEADLETTER"); len(dl) != 0 {
		s.t.Errorf("%d dead letters, want none: every event was valid", len(dl))
	}
}

// TestACrashOfAnyServiceLosesNothing sends 20,000 events while each
// service in turn is killed (SIGKILL) and started again; at the end every
// event is counted exactly once.
func TestACrashOfAnyServiceLosesNothing(t *testing.T) {
	s := start(t)
	events, sent := run(20_000, 500)
	wait := s.sendInBackground(events, 8, 3*time.Minute)
	for _, name := range services {
		time.Sleep(700 * time.Millisecond)
		t.Logf("killing %s with %d events stored by intake", name, s.stored())
		s.crash(name)
	}
	wait()
	s.settle(3 * time.Minute)
	s.checkExact(sent)
}

// TestRestartsOfNATSAndRedisLoseNothing restarts nats-server, then
// redis-server, while 10,000 events flow; the services recover by
// themselves and every event is counted exactly once.
func TestRestartsOfNATSAndRedisLoseNothing(t *testing.T) {
	s := start(t)
	events, sent := run(10_000, 300)
	wait := s.sendInBackground(events, 8, 3*time.Minute)
	time.Sleep(time.Second)
	t.Logf("stopping nats-server with %d events stored by intake", s.stored())
	s.nats.Shutdown()
	s.nats.WaitForShutdown()
	time.Sleep(time.Second)
	s.nats = s.nats.Restart(t)
	time.Sleep(time.Second)
	t.Logf("stopping redis-server with %d events stored by intake", s.stored())
	s.redis.Shutdown()
	time.Sleep(time.Second)
	s.redis.Restart(t)
	wait()
	s.settle(3 * time.Minute)
	s.checkExact(sent)
}
