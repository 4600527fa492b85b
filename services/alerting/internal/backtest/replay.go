package backtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/pipeline"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

// MaxMessages bounds the messages one backtest reads, and so its time and
// memory. Replay reads and decides about 100,000 events a second
// (BenchmarkReplay, one core shared with the embedded server), so the bound
// is under a minute; it keeps about 0.7 KB per customer with a simulated
// case and 0.1 KB per event applied: a rule that matches every one of
// 5,000,000 events of a million customers takes about 1.2 GB. A tenant
// with more traffic backtests a shorter lookback.
const MaxMessages = 5_000_000

// MaxRunning is how many backtests a process runs at once; more wait their
// turn, so that their memory does not add up.
const MaxRunning = 2

var running = make(chan struct{}, MaxRunning)

// Errors Replay wraps: the API maps ErrBeyondRetention to InvalidArgument
// and ErrTooManyMessages to ResourceExhausted.
var (
	ErrBeyondRetention = errors.New("longer than the stream's retention")
	ErrTooManyMessages = errors.New("too many messages to backtest")
)

// idleWait is how long Replay waits for the next message before it asks
// the server whether any is still pending (one may have expired
// meanwhile); after maxIdle such waits in a row it gives up.
const (
	idleWait = 2 * time.Second
	maxIdle  = 5
)

// Query is one backtest.
type Query struct {
	Tenant string
	Rules  *rules.Rules
	// Lookback is how far back to replay; at most the stream's retention.
	Lookback time.Duration
	// MaxMessages bounds the messages read; 0 means the package's
	// MaxMessages.
	MaxMessages int64
}

// Replay reads the tenant's evaluated events and tier changes of the last
// q.Lookback from the CUSTOMERS stream, up to the stream's last message
// when it starts (so it ends while traffic keeps flowing), and decides them
// with a Simulator and sla. A message that cannot be read as an event is
// counted in Skipped and left out. Nothing is written or published. It
// fails with ErrTooManyMessages rather than report on part of the window,
// and with ctx's error when ctx ends first (waiting for its turn
// included).
func Replay(ctx context.Context, js jetstream.JetStream, q Query, sla cases.SLA) (Report, error) {
	select {
	case running <- struct{}{}:
		defer func() { <-running }()
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	limit := q.MaxMessages
	if limit <= 0 {
		limit = MaxMessages
	}
	sim := New(q.Rules.Names(), sla)
	stream, err := js.Stream(ctx, bus.CustomersStream.Name)
	if err != nil {
		return Report{}, fmt.Errorf("backtest: stream %s: %w", bus.CustomersStream.Name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("backtest: stream %s: %w", bus.CustomersStream.Name, err)
	}
	if retention := info.Config.MaxAge; retention > 0 && q.Lookback > retention {
		return Report{}, fmt.Errorf("lookback %s is %w (%s)", q.Lookback, ErrBeyondRetention, retention)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return sim.Report(), nil
	}
	since := time.Now().Add(-q.Lookback)
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.Subject(bus.CustomerEvaluated, q.Tenant), bus.Subject(bus.TierChanged, q.Tenant)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return Report{}, fmt.Errorf("backtest: consumer: %w", err)
	}
	defer func() {
		// The server would drop the consumer after minutes idle; no need to wait.
		if ci := cons.CachedInfo(); ci != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = stream.DeleteConsumer(dctx, ci.Name)
			cancel()
		}
	}()
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return sim.Report(), nil // nothing in the window
	}
	msgs, err := cons.Messages()
	if err != nil {
		return Report{}, fmt.Errorf("backtest: consumer: %w", err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop) // unblocks Next when ctx ends
	defer stop()

	var read, skipped int64
	for idle := 0; ; {
		m, err := msgs.Next(jetstream.NextMaxWait(idleWait))
		if errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			idle++
			ci, err := cons.Info(ctx)
			switch {
			case err != nil:
				return Report{}, fmt.Errorf("backtest: consumer: %w", err)
			case ci.NumPending == 0:
				return done(sim, skipped), nil // what was pending is gone (expired or deleted)
			case idle == maxIdle:
				return Report{}, fmt.Errorf("backtest: no message from %s for %s", bus.CustomersStream.Name, maxIdle*idleWait)
			}
			continue
		}
		idle = 0
		if err != nil {
			if ctx.Err() != nil {
				return Report{}, ctx.Err()
			}
			return Report{}, fmt.Errorf("backtest: reading %s: %w", bus.CustomersStream.Name, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return Report{}, fmt.Errorf("backtest: %w", err)
		}
		if meta.Sequence.Stream > last {
			return done(sim, skipped), nil // published after the backtest started
		}
		if read == limit {
			return Report{}, fmt.Errorf("%w: the last %s hold more than %d; backtest a shorter lookback", ErrTooManyMessages, q.Lookback, limit)
		}
		read++
		ev, err := pipeline.Read(q.Rules, &bus.Message{Ctx: ctx, Subject: m.Subject(), Data: m.Data(), Header: m.Headers()})
		if err != nil {
			skipped++
		} else {
			sim.Add(ev)
		}
		if meta.Sequence.Stream == last || meta.NumPending == 0 {
			return done(sim, skipped), nil
		}
	}
}

func done(sim *Simulator, skipped int64) Report {
	r := sim.Report()
	r.Skipped = skipped
	return r
}
