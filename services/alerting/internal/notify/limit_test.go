package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestLimited(t *testing.T) {
	srv := newRecorder(t, 200)
	l := rate.NewLimiter(rate.Every(time.Hour), 2) // a burst of 2, then one an hour
	s := Limited(newSender(t, slackReceiver, srv.URL, t0), "slack-cx", l)
	for i := range 2 {
		if err := s.Send(context.Background(), sample()); err != nil {
			t.Fatalf("send %d within the burst: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, sample())
	if time.Since(start) > time.Second {
		t.Errorf("Send waited %s though the token is an hour away", time.Since(start))
	}
	var e *Error
	if !errors.As(err, &e) || !e.Retryable || e.Receiver != "slack-cx" {
		t.Errorf("over the limit: err = %v, want a retryable *Error", err)
	}
	if n := len(srv.all()); n != 2 {
		t.Errorf("server got %d requests, want 2", n)
	}

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := s.Send(cancelled, sample()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}
