package testkit

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/feedloop/feedloop/pkg/service"
)

// RunApp builds a service in-process with newApp and runs it, as its main
// does, until stop is called or the test ends; the service must stop
// without an error. It returns a client connection to its gRPC server.
func RunApp[A service.App](tb testing.TB, newApp func(context.Context) (A, error)) (cc *grpc.ClientConn, stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	ln, err := a.Listen()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("service stopped with %v", err)
		}
	})
	tb.Cleanup(stop)
	if cc, err = grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cc.Close() })
	return cc, stop
}
