package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	for i := range events {
		customer, id := fmt.Sprint("c", i%customers), fmt.Sprint("e2e-", i)
		if (i/customers)%5 == 0 {
			events[i] = purchase(customer, id, int64(1000+i%7*2500))
		} else {
			events[i] = feedback(customer, id, int32(i%11), i%37 == 0)
		}
	}
	return events, tally(events)
}

// tally is what each customer was sent by events.
func tally(events []event) map[string]*counts {
	sent := map[string]*counts{}
	for _, e := range events {
		customer := e.feedback.GetCustomerId()
		if e.purchase != nil {
			customer = e.purchase.GetCustomerId()
		}
		if sent[customer] == nil {
			sent[customer] = &counts{}
		}
		if e.purchase != nil {
			sent[customer].purchases++
		} else {
			sent[customer].feedback++
		}
	}
	return sent
}

// send submits events from workers at once until intake has stored every
// one, retrying what fails (intake restarting, NATS away): the event ids
// make the retries harmless. It fails the test after timeout.
func (s *system) send(events []event, workers int, timeout time.Duration) {
	s.t.Helper()
	s.sendInBackground(events, workers, timeout)()
}

// sendInBackground is send on another goroutine; the returned wait waits
// for it to end and, on the test's goroutine, fails the test when events
// were not stored within timeout.
func (s *system) sendInBackground(events []event, workers int, timeout time.Duration) (wait func()) {
	st := &storer{s: s, deadline: time.Now().Add(timeout), callTimeout: timeout,
		retryable: func(codes.Code) bool { return true }}
	feedback, purchases := byKind(events)
	const batch = 100
	work := make(chan func())
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for w := range work {
				w()
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for items := range slices.Chunk(feedback, batch) {
			work <- func() { st.feedback(items) }
		}
		for items := range slices.Chunk(purchases, batch) {
			work <- func() { st.purchases(items) }
		}
		close(work)
		wg.Wait()
	}()
	return func() {
		s.t.Helper()
		<-done
		if err := st.err(); err != nil {
			s.t.Fatalf("events not stored within %s: %v", timeout, err)
		}
	}
}

// byKind is the feedback and the purchases among events, each in order.
func byKind(events []event) (feedback []*intakev1.Feedback, purchases []*intakev1.Activity) {
	for _, e := range events {
		if e.feedback != nil {
			feedback = append(feedback, e.feedback)
		} else {
			purchases = append(purchases, e.purchase)
		}
	}
	return feedback, purchases
}

// storer has intake store events through its batch calls, retrying (after
// 50 ms, with the same event ids) a whole batch when the call fails and the
// items whose result is an error, as long as retryable allows the code and
// deadline has not passed. What it gives up on is its err.
type storer struct {
	s           *system
	deadline    time.Time
	callTimeout time.Duration // of one call
	retryable   func(codes.Code) bool

	inFlight atomic.Int64 // calls awaiting intake's answer
	retried  atomic.Int64 // calls repeated for what they had not stored

	mu     sync.Mutex
	failed error
}

func (st *storer) fail(err error) {
	st.mu.Lock()
	st.failed = errors.Join(st.failed, err)
	st.mu.Unlock()
}

// err is every failure so far, nil when none.
func (st *storer) err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.failed
}

// feedback stores items through SubmitFeedbackBatch.
func (st *storer) feedback(items []*intakev1.Feedback) {
	storeBatch(st, items, func(ctx context.Context, items []*intakev1.Feedback) (results, error) {
		return st.s.intake.SubmitFeedbackBatch(ctx, &intakev1.SubmitFeedbackBatchRequest{Items: items})
	})
}

// purchases stores items through RecordActivityBatch.
func (st *storer) purchases(items []*intakev1.Activity) {
	storeBatch(st, items, func(ctx context.Context, items []*intakev1.Activity) (results, error) {
		return st.s.intake.RecordActivityBatch(ctx, &intakev1.RecordActivityBatchRequest{Items: items})
	})
}

// results is a batch call's answer: a result for each item.
type results interface {
	GetResults() []*intakev1.SubmitFeedbackResult
}

// storeBatch calls call with items until each one is stored, as st says.
func storeBatch[T any](st *storer, items []T, call func(context.Context, []T) (results, error)) {
	for len(items) > 0 {
		callCtx, cancel := context.WithTimeout(ctx(), st.callTimeout)
		st.inFlight.Add(1)
		resp, err := call(callCtx, items)
		st.inFlight.Add(-1)
		cancel()
		var retry []T
		switch {
		case err != nil && st.retryable(status.Code(err)):
			retry = items
		case err != nil:
			st.fail(err)
			return
		default:
			for _, r := range resp.GetResults() {
				switch code := codes.Code(r.GetError().GetCode()); {
				case code == codes.OK:
				case st.retryable(code):
					retry = append(retry, items[r.GetIndex()])
					err = status.ErrorProto(r.GetError())
				default:
					st.fail(fmt.Errorf("item %d: %s: %s", r.GetIndex(), code, r.GetError().GetMessage()))
				}
			}
		}
		if len(retry) == 0 {
			return
		}
		if time.Now().After(st.deadline) {
			st.fail(fmt.Errorf("%d events not stored in time: %v", len(retry), err))
			return
		}
		st.retried.Add(1)
		items = retry
		time.Sleep(50 * time.Millisecond)
	}
}
