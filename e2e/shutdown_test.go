package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// TestAGracefulStopOfAnyServiceLosesNothing sends SIGTERM to each service in
// turn while a steady stream of events flows through the system, as a
// rolling deploy does. Each one must be mid-work when signalled, exit 0
// within its shutdown grace (and a second for the drain) with an orderly
// stop in its log, and come back; the stream keeps flowing (for intake, the
// client retries what failed with Unavailable, under the same event ids).
// At the end every event is counted exactly once and nothing is
// dead-lettered.
func TestAGracefulStopOfAnyServiceLosesNothing(t *testing.T) {
	const (
		grace  = 5 * time.Second // FEEDLOOP_SHUTDOWN_GRACE for the test
		margin = time.Second     // for what follows the gRPC grace: draining consumers, closing connections
		rate   = 400             // events a second, open loop
	)
	s := start(t)
	// Every service again, with a short grace and the info log that shows
	// the stop; stopping them idle is the first check.
	s.env = append(s.env, "FEEDLOOP_SHUTDOWN_GRACE="+grace.String(), "FEEDLOOP_LOG_LEVEL=info")
	for _, name := range services {
		code, took := s.proc[name].Terminate(2 * grace)
		if code != 0 || took > grace+margin {
			t.Fatalf("%s, idle: exit code %d after %s on SIGTERM; want 0 within %s", name, code, took, grace+margin)
		}
		t.Logf("%s, idle: exited 0 in %s", name, took.Round(time.Millisecond))
		s.run(name)
	}

	events := steady(12_000, 293) // at most 30 s at the rate; stopped sooner
	f := s.flow(events, rate, 90*time.Second)
	t.Cleanup(f.stop)
	for _, name := range services {
		s.gracefulStop(name, f, grace, margin)
	}
	time.Sleep(time.Second) // a little more traffic after the last restart
	sent := f.finish()
	if t.Failed() {
		return
	}
	t.Logf("%d events sent at %d/s; %d calls retried after Unavailable", len(sent), rate, f.retried.Load())
	if n := s.stored(); n != uint64(len(sent)) {
		t.Errorf("FEEDBACK holds %d events, sent %d distinct", n, len(sent))
	}
	s.settle(time.Minute)
	s.checkExact(tally(sent))
}

// consumersOf are each consuming service's durable consumers of the event
// flow; the first is the one its progress is seen by.
var consumersOf = map[string][]testkit.Durable{
	"scoring":      {{Stream: "FEEDBACK", Name: "scoring"}},
	"segmentation": {{Stream: "SCORED", Name: "segmentation"}, {Stream: "FEEDBACK", Name: "segmentation-activity"}},
	"alerting": {{Stream: "CUSTOMERS", Name: "alerting"}, {Stream: "RECOVERY", Name: "alerting-dispatch"},
		{Stream: "DELIVERY", Name: "alerting-deliver-webhook"}},
}

// gracefulStop checks that name is working, sends it SIGTERM, checks its
// exit and its log, starts it again and checks that it resumes.
func (s *system) gracefulStop(name string, f *flow, grace, margin time.Duration) {
	s.t.Helper()
	time.Sleep(time.Second)

	// Mid-work: intake is storing events, and the service is taking them
	// (intake: calls in flight; a consumer: new deliveries) right up to the
	// signal.
	cs := consumersOf[name]
	consumes := len(cs) > 0
	var d testkit.Durable
	if consumes {
		d = cs[0]
	}
	stored0, delivered0 := s.stored(), s.delivered(d, consumes)
	time.Sleep(300 * time.Millisecond)
	stored1, delivered1 := s.stored(), s.delivered(d, consumes)
	inFlight := f.inFlight.Load()
	for wait := time.Now().Add(time.Second); !consumes && inFlight == 0 && time.Now().Before(wait); inFlight = f.inFlight.Load() {
		time.Sleep(time.Millisecond) // intake: signal while a call is in flight
	}
	p := s.proc[name]
	code, took := p.Terminate(2 * grace)
	if stored1 <= stored0 {
		s.t.Errorf("%s: intake stored nothing in the 300 ms before the signal (%d events): the flow had stopped", name, stored1)
	}
	if consumes && delivered1 <= delivered0 {
		s.t.Errorf("%s: consumer %s took nothing in the 300 ms before the signal (last delivered %d)", name, d.Name, delivered1)
	}
	if !consumes && inFlight == 0 {
		s.t.Errorf("%s: no call in flight when signalled", name)
	}

	if code != 0 || took > grace+margin {
		s.t.Errorf("%s: exit code %d after %s on SIGTERM mid-stream; want 0 within %s (grace %s)", name, code, took, grace+margin, grace)
	}
	// What a consumer was sent but did not settle before it exited waits
	// for redelivery after the ack wait: not lost, but late.
	var left []string
	for _, c := range cs {
		if n := s.consumer(c).NumAckPending; n > 0 {
			left = append(left, fmt.Sprintf("%s/%s %d", c.Stream, c.Name, n))
		}
	}
	if len(left) == 0 {
		left = []string{"none"}
	}
	if consumes {
		s.t.Logf("%s: SIGTERM with %d events stored, %s at stream position %d; exited %d in %s; unacknowledged at exit: %s",
			name, stored1, d.Name, delivered1, code, took.Round(time.Millisecond), strings.Join(left, ", "))
	} else {
		s.t.Logf("%s: SIGTERM with %d events stored and calls in flight: %d; exited %d in %s",
			name, stored1, inFlight, code, took.Round(time.Millisecond))
	}
	s.checkStopLog(name, p.Output())

	restart := time.Now()
	s.run(name)
	s.t.Logf("%s: serving again %s after the exit", name, time.Since(restart).Round(time.Millisecond))

	// The stream kept flowing while name was away (intake's clients waited
	// and retried), and name resumes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		stored2, delivered2 := s.stored(), s.delivered(d, consumes)
		if stored2 > stored1 && (!consumes || delivered2 > delivered1) {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: no progress within 10s of its restart: %d events stored (%d at the signal), last delivered %d (%d at the signal)",
				name, stored2, stored1, delivered2, delivered1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStopLog wants an orderly stop in a stopped service's JSON log: the
// gRPC server shut down, the service "stopped", and no error or cut-off
// calls. Warnings are shown.
func (s *system) checkStopLog(name, out string) {
	s.t.Helper()
	seen := map[string]bool{}
	warnings := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		seen[rec.Msg] = true
		switch rec.Level {
		case "ERROR":
			s.t.Errorf("%s logged an error: %s", name, line)
		case "WARN":
			warnings[rec.Msg]++
		}
	}
	for _, want := range []string{"shutting down grpc server", "stopped"} {
		if !seen[want] {
			s.t.Errorf("%s: no %q in its log:\n%s", name, want, out)
		}
	}
	if warnings["grace period over; closing remaining calls"] > 0 {
		s.t.Errorf("%s cut calls off at the end of its grace", name)
	}
	if len(warnings) > 0 {
		var w []string
		for msg, n := range warnings {
			w = append(w, fmt.Sprintf("%q ×%d", msg, n))
		}
		sort.Strings(w)
		s.t.Logf("%s warned: %s", name, strings.Join(w, ", "))
	}
}

// consumer is the durable consumer's state.
func (s *system) consumer(d testkit.Durable) *jetstream.ConsumerInfo {
	s.t.Helper()
	c, err := s.js.Consumer(context.Background(), d.Stream, d.Name)
	if err != nil {
		s.t.Fatalf("consumer %s on %s: %v", d.Name, d.Stream, err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		s.t.Fatalf("consumer %s on %s: %v", d.Name, d.Stream, err)
	}
	return info
}

// delivered is the stream position of the last message delivered to d (0
// when it is not a consumer).
func (s *system) delivered(d testkit.Durable, consumes bool) uint64 {
	if !consumes {
		return 0
	}
	return s.consumer(d).Delivered.Stream
}

// flow sends events to intake in the background at a steady rate, as
// clients do: each tick's events go out whether or not earlier calls have
// returned, and a call that fails with Unavailable (intake stopping or
// starting) is retried with the same events until intake stores them.
type flow struct {
	events   []event
	quit     chan struct{}
	quitOnce sync.Once
	done     chan struct{}
	next     int // events dispatched, once done

	*storer // its inFlight and retried count the calls; its err, the failures
}

// flow starts sending events at perSecond until they are all sent or stop
// is called; every call must succeed within timeout.
func (s *system) flow(events []event, perSecond int, timeout time.Duration) *flow {
	const tick = 25 * time.Millisecond
	per := max(1, perSecond*int(tick)/int(time.Second))
	f := &flow{events: events, quit: make(chan struct{}), done: make(chan struct{}),
		storer: &storer{s: s, deadline: time.Now().Add(timeout), callTimeout: 10 * time.Second,
			retryable: func(c codes.Code) bool { return c == codes.Unavailable }}}
	go func() {
		defer close(f.done)
		var wg sync.WaitGroup
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
	loop:
		for f.next < len(events) {
			select {
			case <-f.quit:
				break loop
			case <-ticker.C:
			}
			chunk := events[f.next:min(f.next+per, len(events))]
			f.next += len(chunk)
			wg.Go(func() {
				feedback, purchases := byKind(chunk)
				f.feedback(feedback)
				f.purchases(purchases)
			})
		}
		wg.Wait()
	}()
	return f
}

// stop ends the dispatch of new events.
func (f *flow) stop() { f.quitOnce.Do(func() { close(f.quit) }) }

// finish stops the flow, waits until intake has stored what was dispatched
// and returns it; it fails the test when a call failed otherwise.
func (f *flow) finish() []event {
	f.s.t.Helper()
	f.stop()
	<-f.done
	if err := f.err(); err != nil {
		f.s.t.Errorf("sending events: %v", err)
	}
	return f.events[:f.next]
}

// steady is n events for customers g0…g(customers-1) in turn, every fifth
// a purchase, so that every consumer has work all along.
func steady(n, customers int) []event {
	events := make([]event, n)
	for i := range events {
		customer, id := fmt.Sprint("g", i%customers), fmt.Sprint("shutdown-", i)
		if i%5 == 4 {
			events[i] = purchase(customer, id, int64(1000+i%7*2500))
		} else {
			events[i] = feedback(customer, id, int32(i%11), i%37 == 0)
		}
	}
	return events
}
