package notify

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// Limited is s behind a token bucket: Send waits for a token of l before
// sending. Give each receiver its own limiter, shared by every consumer
// sending to it in this process (the bucket is per process, not global).
//
// When the wait cannot end before ctx does, Send returns at once a
// retryable *Error wrapping the limiter's error, without sending.
func Limited(s Sender, receiver string, l *rate.Limiter) Sender {
	return limited{s: s, receiver: receiver, l: l}
}

type limited struct {
	s        Sender
	receiver string
	l        *rate.Limiter
}

func (l limited) Send(ctx context.Context, n Notification) error {
	if err := l.l.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return &Error{Receiver: l.receiver, Retryable: true, Err: fmt.Errorf("rate limit: %w", err)}
	}
	return l.s.Send(ctx, n)
}
