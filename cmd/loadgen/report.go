package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feedloop/feedloop/cmd/internal/traffic"
)

// outcome is what intake did with one event.
type outcome uint8

const (
	accepted  outcome = iota // stored
	duplicate                // its id was stored before
	rejected                 // INVALID_ARGUMENT: do not retry
	failed                   // anything else: not stored this time
)

func (o outcome) String() string {
	return [...]string{"accepted", "duplicate", "rejected", "failed"}[o]
}

// recorder adds up what happened, for the progress lines and the report.
// It is safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	start   time.Time
	observe func(traffic.Event, outcome)

	counts     [4]int64
	sent       int64
	failures   map[codes.Code]int64
	firstError map[codes.Code]string
	unexpected int64
	maxLag     time.Duration

	intake, e2e histogram
	// The same since the last progress line.
	window struct {
		at          time.Time
		accepted    int64
		intake, e2e histogram
	}
	e2eMatched, e2eChanges int64
	watchErr               error
}

func newRecorder(observe func(traffic.Event, outcome)) *recorder {
	return &recorder{observe: observe, failures: map[codes.Code]int64{}, firstError: map[codes.Code]string{}}
}

// begin marks the start of sending: rates count from here.
func (r *recorder) begin(start time.Time) {
	r.mu.Lock()
	r.start, r.window.at = start, start
	r.mu.Unlock()
}

// call records one intake call: its latency and every event's outcome. err
// is the call's error for failed events.
func (r *recorder) call(latency time.Duration, events []traffic.Event, outcomes []outcome, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.intake.record(latency)
	r.window.intake.record(latency)
	for i, ev := range events {
		o := outcomes[i]
		r.sent++
		r.counts[o]++
		if o == accepted {
			r.window.accepted++
		}
		if o == failed {
			code := status.Code(errs[i])
			r.failures[code]++
			if _, ok := r.firstError[code]; !ok {
				r.firstError[code] = errs[i].Error()
			}
		}
		// A verdict that contradicts the event's kind is intake's mistake,
		// or the generator's.
		if (ev.Kind == traffic.KindInvalid) != (o == rejected) && o != failed {
			r.unexpected++
		}
		if r.observe != nil {
			r.observe(ev, o)
		}
	}
}

// lag records how late an open-loop call started against its schedule.
func (r *recorder) lag(d time.Duration) {
	r.mu.Lock()
	r.maxLag = max(r.maxLag, d)
	r.mu.Unlock()
}

// caseChange records a case change seen on WatchAlerts, with the latency
// from the submission of the event that caused it when known.
func (r *recorder) caseChange(latency time.Duration, matched bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.e2eChanges++
	if matched {
		r.e2eMatched++
		r.e2e.record(latency)
		r.window.e2e.record(latency)
	}
}

func (r *recorder) watchFailed(err error) {
	r.mu.Lock()
	r.watchErr = err
	r.mu.Unlock()
}

// progress writes one line about the run so far and starts a new window.
func (r *recorder) progress(w io.Writer, now time.Time, e2e bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rate := float64(r.window.accepted) / now.Sub(r.window.at).Seconds()
	line := fmt.Sprintf("%6.1fs  sent %d  accepted %d (%.0f/s)  duplicate %d  rejected %d  failed %d  intake p50 %.1fms p99 %.1fms",
		now.Sub(r.start).Seconds(), r.sent, r.counts[accepted], rate, r.counts[duplicate], r.counts[rejected], r.counts[failed],
		ms(r.window.intake.quantile(.5)), ms(r.window.intake.quantile(.99)))
	if e2e {
		line += fmt.Sprintf("  e2e matched %d p50 %.1fms p99 %.1fms", r.e2eMatched, ms(r.window.e2e.quantile(.5)), ms(r.window.e2e.quantile(.99)))
	}
	fmt.Fprintln(w, line)
	r.window.at, r.window.accepted = now, 0
	r.window.intake, r.window.e2e = histogram{}, histogram{}
}

// report is the end-of-run summary; -o json prints it as is. Latencies are
// in milliseconds.
type report struct {
	Seed        uint64  `json:"seed"`
	Mode        string  `json:"mode"` // open-loop or closed-loop
	TargetRate  float64 `json:"target_rate,omitempty"`
	Concurrency int     `json:"concurrency"`
	Batch       int     `json:"batch"`
	Elapsed     float64 `json:"elapsed_seconds"`

	Sent      int64 `json:"sent"`
	Accepted  int64 `json:"accepted"`
	Duplicate int64 `json:"duplicate"`
	Rejected  int64 `json:"rejected"`
	Failed    int64 `json:"failed"`
	// Failures counts failed events by gRPC code; Errors holds the first
	// message of each code.
	Failures map[string]int64  `json:"failures,omitempty"`
	Errors   map[string]string `json:"errors,omitempty"`
	// Unexpected counts verdicts that contradict the event's kind: an
	// invalid event not rejected, or a valid one rejected. Should be 0.
	Unexpected int64 `json:"unexpected"`

	AcceptedPerSecond float64 `json:"accepted_per_second"`
	SentPerSecond     float64 `json:"sent_per_second"`
	// Intake is the latency of intake calls; in open loop it counts from
	// the moment the call was due, so a stalled server shows.
	Intake summary `json:"intake_latency_ms"`
	// MaxLag is how late the latest-starting open-loop call started.
	MaxLag float64 `json:"max_start_lag_ms,omitempty"`

	E2E *e2eReport `json:"e2e,omitempty"`
}

// e2eReport is the end-to-end measure: from the submission of an event to
// WatchAlerts showing the case change it caused.
type e2eReport struct {
	// CaseChanges is every change seen; Matched those caused by an event of
	// this run, measured in Latency.
	CaseChanges int64   `json:"case_changes"`
	Matched     int64   `json:"matched"`
	Latency     summary `json:"latency_ms"`
	WatchError  string  `json:"watch_error,omitempty"`
}

func (r *recorder) report(o options, end time.Time) *report {
	r.mu.Lock()
	defer r.mu.Unlock()
	elapsed := end.Sub(r.start).Seconds()
	rep := &report{
		Seed:        o.traffic.Seed,
		Mode:        "closed-loop",
		Concurrency: o.concurrency,
		Batch:       o.batch,
		Elapsed:     elapsed,
		Sent:        r.sent,
		Accepted:    r.counts[accepted],
		Duplicate:   r.counts[duplicate],
		Rejected:    r.counts[rejected],
		Failed:      r.counts[failed],
		Unexpected:  r.unexpected,
		Intake:      r.intake.summary(),
		MaxLag:      ms(r.maxLag),
	}
	if o.rate > 0 {
		rep.Mode, rep.TargetRate = "open-loop", o.rate
	}
	if elapsed > 0 {
		rep.AcceptedPerSecond = float64(rep.Accepted) / elapsed
		rep.SentPerSecond = float64(rep.Sent) / elapsed
	}
	for code, n := range r.failures {
		if rep.Failures == nil {
			rep.Failures, rep.Errors = map[string]int64{}, map[string]string{}
		}
		rep.Failures[codeName(code)] = n
		rep.Errors[codeName(code)] = r.firstError[code]
	}
	if o.e2e {
		rep.E2E = &e2eReport{CaseChanges: r.e2eChanges, Matched: r.e2eMatched, Latency: r.e2e.summary()}
		if r.watchErr != nil {
			rep.E2E.WatchError = r.watchErr.Error()
		}
	}
	return rep
}

// codeName is a gRPC code as the API names it: RESOURCE_EXHAUSTED.
func codeName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED" // Go spells it with one L
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText prints the report for a person.
func (rep *report) writeText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	mode := rep.Mode
	if rep.TargetRate > 0 {
		mode += fmt.Sprintf(" at %.0f events/s", rep.TargetRate)
	}
	p("loadgen: %s, concurrency %d, batch %d, seed %d, %.1fs", mode, rep.Concurrency, rep.Batch, rep.Seed, rep.Elapsed)
	p("events    sent %d (%.0f/s)", rep.Sent, rep.SentPerSecond)
	p("          accepted %d (%.0f/s)  duplicate %d  rejected %d  failed %d", rep.Accepted, rep.AcceptedPerSecond, rep.Duplicate, rep.Rejected, rep.Failed)
	for _, code := range slices.Sorted(maps.Keys(rep.Failures)) {
		p("          %s %d, e.g. %s", code, rep.Failures[code], rep.Errors[code])
	}
	if rep.Unexpected > 0 {
		p("          UNEXPECTED %d: invalid events accepted or valid ones rejected", rep.Unexpected)
	}
	in := rep.Intake
	p("intake    %d calls  p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms", in.Count, in.P50, in.P90, in.P99, in.Max)
	if rep.Mode == "open-loop" {
		p("          latest start %.1fms behind schedule", rep.MaxLag)
	}
	if e := rep.E2E; e != nil {
		l := e.Latency
		p("e2e       %d case changes, %d matched to events sent  p50 %.1fms  p90 %.1fms  p99 %.1fms  max %.1fms",
			e.CaseChanges, e.Matched, l.P50, l.P90, l.P99, l.Max)
		if e.WatchError != "" {
			p("          watch ended early: %s", e.WatchError)
		}
	}
}
