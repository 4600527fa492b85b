package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
)

// matchWindow is how long a sent event waits for the case change it may
// cause; older ones are forgotten, so memory stays bounded (at 5,000
// events/s, 300,000 ids). A pipeline lagging more than this is not
// measured anyway, only reported as unmatched changes.
const matchWindow = time.Minute

// watch follows WatchAlerts and matches each case change to the event of
// this run that caused it: the case's latest (or first) event id. Most
// events change no case, so the ids wait only matchWindow.
type watch struct {
	rec *recorder

	mu      sync.Mutex
	pending map[string]time.Time // event id → when it was due to be sent
	queue   []sentID             // the same, oldest first, for expiry
	last    time.Time            // of the latest case change
	done    chan struct{}        // closed when the stream ends
}

type sentID struct {
	id string
	at time.Time
}

// startWatch opens WatchAlerts and returns once the watch is in place
// (the server sends the headers then), so no change caused by the run is
// missed.
func startWatch(ctx context.Context, alerting alertingv1.AlertingServiceClient, rec *recorder) (*watch, error) {
	stream, err := alerting.WatchAlerts(ctx, &alertingv1.WatchAlertsRequest{})
	if err != nil {
		return nil, fmt.Errorf("watch alerts: %w", err)
	}
	if _, err := stream.Header(); err != nil {
		return nil, fmt.Errorf("watch alerts: %w", err)
	}
	w := &watch{rec: rec, pending: map[string]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil {
					w.rec.watchFailed(err)
				}
				return
			}
			w.seen(resp.GetCase(), time.Now())
		}
	}()
	return w, nil
}

// expect notes that event id is about to be sent, due at at. It is called
// before the send, so a change that beats the intake answer still matches.
func (w *watch) expect(id string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[id] = at
	w.queue = append(w.queue, sentID{id, at})
	// Expire what waited too long; the queue is in send order, nearly.
	cutoff := time.Now().Add(-matchWindow)
	n := 0
	for n < len(w.queue) && w.queue[n].at.Before(cutoff) {
		if at, ok := w.pending[w.queue[n].id]; ok && at.Equal(w.queue[n].at) {
			delete(w.pending, w.queue[n].id)
		}
		n++
	}
	if n > 0 {
		w.queue = append(w.queue[:0], w.queue[n:]...)
	}
}

// forget drops an event that was not stored.
func (w *watch) forget(id string) {
	w.mu.Lock()
	delete(w.pending, id)
	w.mu.Unlock()
}

// seen matches a case change to the event behind it. A tier change names
// the event that caused it followed by "/tier_changed"; event ids cannot
// contain "/", so the part before it is the event's id.
func (w *watch) seen(c *alertingv1.RecoveryCase, now time.Time) {
	w.mu.Lock()
	w.last = now
	var at time.Time
	var matched bool
	for _, id := range []string{c.GetLatestEventId(), c.GetFirstEventId()} {
		id, _, _ = strings.Cut(id, "/")
		if at, matched = w.pending[id]; matched {
			delete(w.pending, id) // the first change it caused is the one measured
			break
		}
	}
	w.mu.Unlock()
	w.rec.caseChange(now.Sub(at), matched)
}

// drain waits for the changes the last events cause: until none came for a
// second, the stream ended, ctx ended, or wait passed since sendEnd.
func (w *watch) drain(ctx context.Context, sendEnd time.Time, wait time.Duration) {
	const quiet = time.Second
	deadline := sendEnd.Add(wait)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		w.mu.Lock()
		last := w.last
		w.mu.Unlock()
		now := time.Now()
		if now.After(deadline) || now.Sub(later(last, sendEnd)) >= quiet {
			return
		}
		select {
		case <-t.C:
		case <-w.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
