package e2e

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// event is one thing a customer did: feedback or a purchase.
type event struct {
	feedback *intakev1.Feedback
	purchase *intakev1.Activity
}

func feedback(customer, id string, nps int32, complaint bool) event {
	f := &intakev1.Feedback{EventId: id, CustomerId: customer, Channel: intakev1.Channel_CHANNEL_APP,
		Touchpoint: "delivery", Nps: proto.Int32(nps), OccurredAt: timestamppb.Now()}
	if complaint {
		f.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY}
	}
	return event{feedback: f}
}

func purchase(customer, id string, amountMinor int64) event {
	return event{purchase: &intakev1.Activity{EventId: id, CustomerId: customer, Channel: intakev1.Channel_CHANNEL_WEB,
		OccurredAt: timestamppb.Now(),
		Purchase:   &intakev1.Purchase{OrderId: "o-" + id, Amount: &intakev1.Money{AmountMinor: amountMinor, Currency: "USD"}}}}
}

// counts are what a customer was sent.
type counts struct{ feedback, purchases int64 }

// run is n events for customers c0…c(customers-1) in turn, every fifth
// round a purchase each, and what each customer was sent.
func run(n, customers int) ([]event, map[string]*counts) {
	events := make([]event, n)
	sent := map[string]*counts{}
	for i := range events {
		customer := fmt.Sprint("c", i%customers)
		if sent[customer] == nil {
			sent[customer] = &counts{}
		}
		id := fmt.Sprint("e2e-", i)
		if (i/customers)%5 == 0 {
			events[i] = purchase(customer, id, int64(1000+i%7*2500))
			sent[customer].purchases++
		} else {
			events[i] = feedback(customer, id, int32(i%11), i%37 == 0)
			sent[customer].feedback++
		}
	}
	return events, sent
}

// send submits events from workers at once until intake has stored every
// one, retrying what fails (intake restarting, NATS away): the event ids
// make the retries harmless. It fails the test after timeout.
func (s *system) send(events []event, workers int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var feedback []*intakev1.Feedback
	var purchases []*intakev1.Activity
	for _, e := range events {
		if e.feedback != nil {
			feedback = append(feedback, e.feedback)
		} else {
			purchases = append(purchases, e.purchase)
		}
	}
	const batch = 100
	work := make(chan func() error)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				for {
					err := w()
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						mu.Lock()
						failure = errors.Join(failure, err)
						mu.Unlock()
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	for i := 0; i < len(feedback); i += batch {
		items := feedback[i:min(i+batch, len(feedback))]
		work <- func() error {
			resp, err := s.intake.SubmitFeedbackBatch(ctx(), &intakev1.SubmitFeedbackBatchRequest{Items: items})
			items, err = unstored(items, resp, err)
			return err
		}
	}
	for i := 0; i < len(purchases); i += batch {
		items := purchases[i:min(i+batch, len(purchases))]
		work <- func() error {
			resp, err := s.intake.RecordActivityBatch(ctx(), &intakev1.RecordActivityBatchRequest{Items: items})
			items, err = unstored(items, resp, err)
			return err
		}
	}
	close(work)
	wg.Wait()
	if failure != nil {
		s.t.Fatalf("events not stored within %s: %v", timeout, failure)
	}
}

// unstored is what a batch call left to retry: the whole batch when the
// call failed, else the items without a stored (or duplicate) result.
func unstored[T any](items []T, resp interface {
	GetResults() []*intakev1.SubmitFeedbackResult
}, err error) ([]T, error) {
	if err != nil {
		return items, err
	}
	var retry []T
	for _, r := range resp.GetResults() {
		if r.GetError() != nil {
			retry = append(retry, items[r.GetIndex()])
		}
	}
	if len(retry) > 0 {
		return retry, fmt.Errorf("%d items not stored yet", len(retry))
	}
	return nil, nil
}
