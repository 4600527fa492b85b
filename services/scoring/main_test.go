package main

import (
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestServesHealthAndStopsOnSIGTERM(t *testing.T) {
	testkit.CheckLifecycle(t, testkit.Build(t, "."), "", 10*time.Second)
}
