package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

func TestEnumParse(t *testing.T) {
	tests := []struct {
		enum    enumType
		in      string
		want    int32
		wantErr bool
	}{
		{channels, "app", int32(intakev1.Channel_CHANNEL_APP), false},
		{channels, "CHANNEL_APP", int32(intakev1.Channel_CHANNEL_APP), false},
		{channels, " Web ", int32(intakev1.Channel_CHANNEL_WEB), false},
		{channels, "unspecified", 0, true},
		{channels, "", 0, true},
		{channels, "fax", 0, true},
		{complaints, "delivery", int32(intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY), false},
		{caseStates, "ack", 2, false}, // an unambiguous prefix
		{caseStates, "acknowledged", 2, false},
		{severities, "crit", 4, false},
		{channels, "s", 0, true}, // store or social
	}
	for _, tt := range tests {
		got, err := tt.enum.parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s parse(%q) = %d, %v; want %d, error %v", tt.enum.prefix, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := strings.Join(severities.names(), ","); got != "low,medium,high,critical" {
		t.Errorf("severity names = %s, want them in order", got)
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"7d", 7 * 24 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1w2d", 9 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"36h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{" 30d ", 30 * 24 * time.Hour},
		{"", 0},
		{"0d", 0},
		{"-1d", 0},
		{"7 days", 0},
		{"d", 0},
		{"1.5d", 0},
	}
	for _, tt := range tests {
		got, err := parseWindow(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseWindow(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseWindow(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"2025-06-01T10:00:00Z", time.UTC, time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)},
		{"2025-06-01T10:00:00+08:00", time.UTC, time.Date(2025, 6, 1, 2, 0, 0, 0, time.UTC)},
		{"2025-06-01", shanghai, time.Date(2025, 6, 1, 0, 0, 0, 0, shanghai)},
		{"2025-06-01 09:30", time.UTC, time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)},
		{"2h", time.UTC, now.Add(-2 * time.Hour)},
		{"3d", time.UTC, now.Add(-72 * time.Hour)},
		{"now", time.UTC, now},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, now, tt.loc)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "2025-13-01", ""} {
		if _, err := parseTime(bad, now, time.UTC); err == nil {
			t.Errorf("parseTime(%q) took it", bad)
		}
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		in      string
		want    *intakev1.Money
		shown   string
		wantErr bool
	}{
		{"10.00USD", &intakev1.Money{AmountMinor: 1000, Currency: "USD"}, "10.00 USD", false},
		{"12.5 eur", &intakev1.Money{AmountMinor: 1250, Currency: "EUR"}, "12.50 EUR", false},
		{"USD0.99", &intakev1.Money{AmountMinor: 99, Currency: "USD"}, "0.99 USD", false},
		{"1,299.99 USD", &intakev1.Money{AmountMinor: 129999, Currency: "USD"}, "1299.99 USD", false},
		{"500JPY", &intakev1.Money{AmountMinor: 500, Currency: "JPY"}, "500 JPY", false},
		{"1.234KWD", &intakev1.Money{AmountMinor: 1234, Currency: "KWD"}, "1.234 KWD", false},
		{".5USD", &intakev1.Money{AmountMinor: 50, Currency: "USD"}, "0.50 USD", false},
		{"1.005USD", nil, "", true}, // more decimals than the currency has
		{"1.5JPY", nil, "", true},
		{"10", nil, "", true},
		{"-5USD", nil, "", true},
		{"ten USD", nil, "", true},
		{"99999999999999999999USD", nil, "", true},
	}
	for _, tt := range tests {
		got, err := parseMoney(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseMoney(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("parseMoney(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := formatMoney(got); s != tt.shown {
			t.Errorf("formatMoney(%v) = %q, want %q", got, s, tt.shown)
		}
	}
	if got := formatMoney(&intakev1.Money{AmountMinor: 5, Currency: "USD"}); got != "0.05 USD" {
		t.Errorf("formatMoney(5 cents) = %q", got)
	}
	if _, err := parseAmount("12.50", "dollars"); err == nil {
		t.Error("parseAmount took a currency that is not an ISO code")
	}
}

func TestParseServqual(t *testing.T) {
	got, err := parseServqual(map[string]string{"reliability": "6:3", "Empathy": "5:5"})
	want := &intakev1.Servqual{
		Reliability: &intakev1.ServqualRating{Expectation: 6, Perception: 3},
		Empathy:     &intakev1.ServqualRating{Expectation: 5, Perception: 5},
	}
	if err != nil || !proto.Equal(got, want) {
		t.Errorf("parseServqual = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []map[string]string{{"reliability": "6"}, {"speed": "6:3"}, {"empathy": "a:b"}} {
		if _, err := parseServqual(bad); err == nil {
			t.Errorf("parseServqual(%v) took it", bad)
		}
	}
	if got, err := parseServqual(nil); got != nil || err != nil {
		t.Errorf("parseServqual(nil) = %v, %v", got, err)
	}
}
