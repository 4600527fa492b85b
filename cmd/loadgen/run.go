package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/cmd/internal/traffic"
)

// options say what a run does; flags fill them.
type options struct {
	rate        float64       // events per second, scheduled by the clock; 0: closed loop
	concurrency int           // closed loop: callers; open loop: most calls in flight
	duration    time.Duration // stop sending after this long (0: no limit)
	count       int           // stop after this many events (0: no limit)
	batch       int           // events per batch call (feedback and activities apart); 1: one a call
	timeout     time.Duration // of one call
	traffic     traffic.Config
	e2e         bool
	// e2eWait bounds how long the run watches for case changes after the
	// last send; it stops sooner once changes stop coming for a second.
	e2eWait time.Duration
	every   time.Duration // between progress lines; 0: none
}

func (o options) check() error {
	var errs []error
	if o.rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v is negative", o.rate))
	}
	if o.concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d, want at least 1", o.concurrency))
	}
	if o.batch < 1 || o.batch > 500 {
		errs = append(errs, fmt.Errorf("batch %d, want 1 to 500 (intake's limit)", o.batch))
	}
	if o.duration < 0 || o.count < 0 {
		errs = append(errs, errors.New("duration and count must not be negative"))
	}
	if o.timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if o.e2e && o.e2eWait < 0 {
		errs = append(errs, errors.New("e2e wait must not be negative"))
	}
	return errors.Join(append(errs, o.traffic.Validate())...)
}

// load is one run against intake (and alerting, for the end-to-end measure).
type load struct {
	options
	intake   intakev1.IntakeServiceClient
	alerting alertingv1.AlertingServiceClient // used when e2e is set
	progress io.Writer                        // nil: no progress lines
	// observe, when set, is told every event's outcome (one call at a time).
	observe func(traffic.Event, outcome)

	gen   *traffic.Generator
	genMu sync.Mutex
	taken int
	end   time.Time // no sends start after it (zero: no limit)
	rec   *recorder
	watch *watch
}

// run sends events until the count or duration is reached or ctx ends,
// lets the calls in flight finish, and reports. Cancelling ctx stops
// sending, not the calls in flight (each is bounded by the timeout).
func (l *load) run(ctx context.Context) (*report, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if l.e2e && l.alerting == nil {
		return nil, errors.New("e2e needs an alerting client")
	}
	var err error
	if l.gen, err = traffic.New(l.traffic); err != nil {
		return nil, err
	}
	// Calls outlive a cancelled ctx, bounded by their timeout, so that
	// stopping a run does not turn calls in flight into failures.
	callCtx := context.WithoutCancel(ctx)
	l.rec = newRecorder(l.observe)
	if l.e2e {
		watchCtx, stopWatch := context.WithCancel(callCtx)
		defer stopWatch()
		if l.watch, err = startWatch(watchCtx, l.alerting, l.rec); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	l.rec.begin(start)
	if l.duration > 0 {
		l.end = start.Add(l.duration)
	}
	stopProgress := l.startProgress()
	if l.rate > 0 {
		l.openLoop(ctx, callCtx, start)
	} else {
		l.closedLoop(ctx, callCtx)
	}
	sendEnd := time.Now()
	if l.watch != nil {
		l.watch.drain(ctx, sendEnd, l.e2eWait)
	}
	stopProgress()
	return l.rec.report(l.options, sendEnd), nil
}

func (l *load) startProgress() (stop func()) {
	if l.progress == nil || l.every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.rec.progress(l.progress, time.Now(), l.e2e)
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// take returns the next n events (fewer when the count runs out), made at
// time at, or none when the run is over.
func (l *load) take(ctx context.Context, n int, at time.Time) []traffic.Event {
	l.genMu.Lock()
	defer l.genMu.Unlock()
	if ctx.Err() != nil || (!l.end.IsZero() && !at.Before(l.end)) {
		return nil
	}
	if l.count > 0 {
		n = min(n, l.count-l.taken)
	}
	events := make([]traffic.Event, n)
	for i := range events {
		events[i] = l.gen.Next(at)
	}
	l.taken += n
	return events
}

// openLoop sends batch events every batch/rate seconds by the clock,
// whatever the server does: a call that cannot start on time (all
// concurrency slots busy) starts late, and its latency counts from when it
// was due, so a stall shows in the latencies instead of hiding in a lower
// send rate (no coordinated omission).
func (l *load) openLoop(ctx, callCtx context.Context, start time.Time) {
	slots := make(chan struct{}, l.concurrency)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	perTick := float64(l.batch) / l.rate // seconds
	for tick := 0; ; tick++ {
		due := start.Add(time.Duration(float64(tick) * perTick * float64(time.Second)))
		if wait := due.Sub(time.Now()); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
		events := l.take(ctx, l.batch, due)
		if len(events) == 0 {
			return
		}
		for _, c := range split(events, l.batch) {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			l.rec.lag(time.Now().Sub(due))
			inFlight.Go(func() {
				defer func() { <-slots }()
				l.send(callCtx, c, due)
			})
		}
	}
}

// closedLoop runs concurrency callers, each sending its next events as
// soon as its previous call returns.
func (l *load) closedLoop(ctx, callCtx context.Context) {
	var callers sync.WaitGroup
	for range l.concurrency {
		callers.Go(func() {
			for {
				events := l.take(ctx, l.batch, time.Now())
				if len(events) == 0 {
					return
				}
				for _, c := range split(events, l.batch) {
					l.send(callCtx, c, time.Now())
				}
			}
		})
	}
	callers.Wait()
}

// split groups events into calls: when batch is above 1, the feedback into
// one SubmitFeedbackBatch call and the activities into one
// RecordActivityBatch call; otherwise each event alone.
func split(events []traffic.Event, batch int) [][]traffic.Event {
	if batch <= 1 {
		calls := make([][]traffic.Event, len(events))
		for i, ev := range events {
			calls[i] = []traffic.Event{ev}
		}
		return calls
	}
	var feedback, activities []traffic.Event
	for _, ev := range events {
		if ev.Feedback != nil {
			feedback = append(feedback, ev)
		} else {
			activities = append(activities, ev)
		}
	}
	var calls [][]traffic.Event
	for _, c := range [][]traffic.Event{activities, feedback} {
		if len(c) > 0 {
			calls = append(calls, c)
		}
	}
	return calls
}

// send makes one intake call for events (a batch when there are several)
// and records its latency, counted from due, and every event's outcome.
func (l *load) send(ctx context.Context, events []traffic.Event, due time.Time) {
	if l.watch != nil {
		for _, ev := range events {
			if ev.Kind == traffic.KindFeedback || ev.Kind == traffic.KindPurchase {
				l.watch.expect(ev.EventID(), due)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	outcomes := make([]outcome, len(events))
	errs := make([]error, len(events))
	switch {
	case len(events) > 1:
		var resp interface {
			GetResults() []*intakev1.SubmitFeedbackResult
		}
		var err error
		if events[0].Feedback != nil {
			items := make([]*intakev1.Feedback, len(events))
			for i, ev := range events {
				items[i] = ev.Feedback
			}
			resp, err = l.intake.SubmitFeedbackBatch(ctx, &intakev1.SubmitFeedbackBatchRequest{Items: items})
		} else {
			items := make([]*intakev1.Activity, len(events))
			for i, ev := range events {
				items[i] = ev.Activity
			}
			resp, err = l.intake.RecordActivityBatch(ctx, &intakev1.RecordActivityBatchRequest{Items: items})
		}
		for i := range events {
			switch r := resp.GetResults(); {
			case err != nil:
				outcomes[i], errs[i] = verdict(false, err)
			case i >= len(r):
				outcomes[i], errs[i] = failed, status.Error(codes.Internal, "batch answer has too few results")
			case r[i].GetError() != nil:
				outcomes[i], errs[i] = verdict(false, status.ErrorProto(r[i].GetError()))
			default:
				outcomes[i], errs[i] = verdict(r[i].GetDuplicate(), nil)
			}
		}
	case events[0].Feedback != nil:
		resp, err := l.intake.SubmitFeedback(ctx, &intakev1.SubmitFeedbackRequest{Feedback: events[0].Feedback})
		outcomes[0], errs[0] = verdict(resp.GetDuplicate(), err)
	default:
		resp, err := l.intake.RecordActivity(ctx, &intakev1.RecordActivityRequest{Activity: events[0].Activity})
		outcomes[0], errs[0] = verdict(resp.GetDuplicate(), err)
	}
	l.rec.call(time.Now().Sub(due), events, outcomes, errs)
	if l.watch != nil {
		for i, ev := range events {
			// Only an event that was not stored cannot change a case. (A
			// new event answered as a duplicate had its own repeat overtake
			// it: the event is stored and may still change a case.)
			if outcomes[i] == rejected || outcomes[i] == failed {
				l.watch.forget(ev.EventID())
			}
		}
	}
}

func verdict(dup bool, err error) (outcome, error) {
	switch {
	case err == nil && dup:
		return duplicate, nil
	case err == nil:
		return accepted, nil
	case status.Code(err) == codes.InvalidArgument:
		return rejected, err
	}
	return failed, err
}
