package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// enumType maps the short, lower-case names people type ("app",
// "acknowledged") to a proto enum's numbers.
type enumType struct {
	prefix string           // e.g. "CHANNEL_"
	values map[string]int32 // the generated <Enum>_value map
}

var (
	channels   = enumType{"CHANNEL_", intakev1.Channel_value}
	complaints = enumType{"COMPLAINT_CATEGORY_", intakev1.ComplaintCategory_value}
	severities = enumType{"SEVERITY_", alertingv1.Severity_value}
	caseStates = enumType{"CASE_STATE_", alertingv1.CaseState_value}
)

// names lists the accepted short names in number order, for help and errors.
func (e enumType) names() []string {
	type nv struct {
		name string
		num  int32
	}
	var all []nv
	for name, num := range e.values {
		if num != 0 {
			all = append(all, nv{strings.ToLower(strings.TrimPrefix(name, e.prefix)), num})
		}
	}
	slices.SortFunc(all, func(a, b nv) int { return int(a.num - b.num) })
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = v.name
	}
	return out
}

// parse accepts the short name, the full proto name or an unambiguous
// prefix, in any case: "app", "CHANNEL_APP", "ack". Empty is an error: the
// caller decides whether a value is optional.
func (e enumType) parse(s string) (int32, error) {
	key := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
	key = strings.TrimPrefix(key, e.prefix)
	if num, ok := e.values[e.prefix+key]; ok && num != 0 {
		return num, nil
	}
	var match []int32
	for name, num := range e.values {
		if num != 0 && key != "" && strings.HasPrefix(strings.TrimPrefix(name, e.prefix), key) {
			match = append(match, num)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return 0, fmt.Errorf("%q is not one of %s", s, strings.Join(e.names(), ", "))
}

// short is the name a table shows for an enum value: "CASE_STATE_OPEN" →
// "open"; the zero value shows as "".
func short(name, prefix string) string {
	if strings.HasSuffix(name, "_UNSPECIFIED") {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

var windowRE = regexp.MustCompile(`^(?:(\d+)w)?(?:(\d+)d)?(.*)$`)

// parseWindow reads a positive length of time as people write it: Go's
// durations ("36h", "90m") plus days and weeks ("7d", "2w", "1d12h").
func parseWindow(s string) (time.Duration, error) {
	m := windowRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("%q is not a duration (e.g. 7d, 2w, 36h, 90m)", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration (e.g. 7d, 2w, 36h, 90m)", s)
		}
		d += time.Duration(n) * unit
	}
	if rest := m[3]; rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 7d, 2w, 36h, 90m)", s)
		}
		d += r
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: the duration must be positive", s)
	}
	return d, nil
}

// parseTime reads a point in time: RFC 3339 ("2025-06-01T10:00:00Z"), a
// date or date and minute in loc ("2025-06-01", "2025-06-01 10:00"), "now",
// or a duration meaning that long before now ("90m", "2d").
func parseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if d, err := parseWindow(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (e.g. 2025-06-01T10:00:00Z, 2025-06-01, or 2h for two hours ago)", s)
}

// minorDigits are the ISO 4217 currencies whose minor unit is not a
// hundredth; every other currency has two decimals.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

func decimals(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// parseAmount converts a decimal amount ("12.50", "1,299.99") in currency to
// minor units without floating point, so 0.10 + 0.20 stays exact.
func parseAmount(amount, currency string) (*intakev1.Money, error) {
	currency = strings.ToUpper(strings.TrimSpace(currency))
	if !currencyRE.MatchString(currency) {
		return nil, fmt.Errorf("currency %q is not a three-letter ISO 4217 code", currency)
	}
	s := strings.ReplaceAll(strings.TrimSpace(amount), ",", "")
	whole, frac, _ := strings.Cut(s, ".")
	digits := decimals(currency)
	bad := fmt.Errorf("amount %q is not a number with at most %d decimals for %s", amount, digits, currency)
	if whole == "" && frac == "" || len(frac) > digits || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return nil, bad
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt("0"+whole+frac, 10, 64)
	if err != nil {
		return nil, bad
	}
	return &intakev1.Money{AmountMinor: n, Currency: currency}, nil
}

var moneyRE = regexp.MustCompile(`^(?:([A-Za-z]{3})\s*([0-9.,]+)|([0-9.,]+)\s*([A-Za-z]{3}))$`)

// parseMoney reads an amount with its currency: "10.00USD", "10 EUR",
// "USD10".
func parseMoney(s string) (*intakev1.Money, error) {
	m := moneyRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("%q is not an amount with a currency (e.g. 10.00USD)", s)
	}
	if m[1] != "" {
		return parseAmount(m[2], m[1])
	}
	return parseAmount(m[3], m[4])
}

// formatMoney shows minor units as the decimal amount and currency.
func formatMoney(m *intakev1.Money) string {
	if m == nil || m.GetCurrency() == "" {
		return ""
	}
	digits := decimals(m.GetCurrency())
	n := m.GetAmountMinor()
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := strconv.FormatInt(n, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	return sign + s + " " + m.GetCurrency()
}

var servqualDimensions = []string{"reliability", "responsiveness", "assurance", "empathy", "tangibles"}

// parseServqual reads DIMENSION=EXPECTED:PERCEIVED pairs, e.g.
// reliability=6:3, into the Servqual message.
func parseServqual(pairs map[string]string) (*intakev1.Servqual, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	sq := &intakev1.Servqual{}
	for dim, v := range pairs {
		e, p, ok := strings.Cut(v, ":")
		exp, err1 := strconv.Atoi(strings.TrimSpace(e))
		per, err2 := strconv.Atoi(strings.TrimSpace(p))
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("servqual %s=%s: want EXPECTED:PERCEIVED, e.g. %s=6:3", dim, v, dim)
		}
		r := &intakev1.ServqualRating{Expectation: int32(exp), Perception: int32(per)}
		switch strings.ToLower(dim) {
		case "reliability":
			sq.Reliability = r
		case "responsiveness":
			sq.Responsiveness = r
		case "assurance":
			sq.Assurance = r
		case "empathy":
			sq.Empathy = r
		case "tangibles":
			sq.Tangibles = r
		default:
			return nil, fmt.Errorf("servqual dimension %q is not one of %s", dim, strings.Join(servqualDimensions, ", "))
		}
	}
	return sq, nil
}
