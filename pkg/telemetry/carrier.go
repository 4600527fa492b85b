package telemetry

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// HeaderCarrier lets the OpenTelemetry propagator read and write trace context
// in NATS message headers. Keys are lower case ("traceparent"), as W3C Trace
// Context specifies; NATS headers are case-sensitive, so both sides must agree.
type HeaderCarrier nats.Header

// Get returns the value of key.
func (c HeaderCarrier) Get(key string) string {
	if v := c[strings.ToLower(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) { c[strings.ToLower(key)] = []string{value} }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
