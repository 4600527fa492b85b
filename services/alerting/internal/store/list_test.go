package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// open opens a case for customer at at, in tier.
func (f fixture) open(t *testing.T, customer string, sev alert.Severity, tier string, at time.Time) *cases.Case {
	t.Helper()
	m := match(customer, customer+"-e1", sev, at)
	m.Tier = tier
	c, ok := f.decide(t, m)
	if !ok {
		t.Fatalf("%s's case not committed", customer)
	}
	return c
}

// acknowledge acknowledges customer's case.
func (f fixture) acknowledge(t *testing.T, customer string, at time.Time) {
	t.Helper()
	l := f.load(t, customer)
	c := l.Case.Clone()
	if err := c.Acknowledge("ops", at); err != nil {
		t.Fatal(err)
	}
	if done, err := f.st.Commit(context.Background(), "t", []store.Write{{Loaded: &l, New: c, Now: at}}); err != nil || !done[0] {
		t.Fatalf("acknowledge %s: %v %v", customer, done, err)
	}
}

// pages lists q page by page (at most max calls) and returns the case ids
// in the order listed and the size of each page.
func (f fixture) pages(t *testing.T, q store.Query, max int) (ids []string, sizes []int) {
	t.Helper()
	for range max {
		cs, next, err := f.st.List(context.Background(), "t", q)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(cs))
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		if next == nil {
			return ids, sizes
		}
		q.After = next
	}
	t.Fatalf("still a next page after %d calls (pages %v)", max, sizes)
	return nil, nil
}

func ids(cs ...*cases.Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestListNewestFirstInPages(t *testing.T) {
	f := setup(t)
	c1 := f.open(t, "c1", alert.High, "loyal", t0)
	c2 := f.open(t, "c2", alert.Low, "loyal", t0.Add(time.Minute))
	// Opened in the same millisecond: by id, descending.
	tied := []*cases.Case{
		f.open(t, "c3", alert.Critical, "lost", t0.Add(2*time.Minute)),
		f.open(t, "c4", alert.Medium, "loyal", t0.Add(2*time.Minute)),
		f.open(t, "c5", alert.High, "lost", t0.Add(2*time.Minute)),
	}
	slices.SortFunc(tied, func(a, b *cases.Case) int { return strings.Compare(b.ID, a.ID) })
	want := append(ids(tied...), c2.ID, c1.ID)

	got, sizes := f.pages(t, store.Query{Limit: 2}, 4)
	if !slices.Equal(got, want) {
		t.Errorf("listed %v in pages %v, want %v", got, sizes, want)
	}
	for _, limit := range []int{1, 3, 5, 50} {
		if got, sizes := f.pages(t, store.Query{Limit: limit}, 6); !slices.Equal(got, want) {
			t.Errorf("limit %d: listed %v in pages %v", limit, got, sizes)
		}
	}

	filters := []struct {
		name string
		f    store.Filter
		want []*cases.Case
	}{
		{"high and above", store.Filter{MinSeverity: alert.High}, []*cases.Case{c1}},
		{"tier", store.Filter{Tier: "lost"}, nil},
		{"customer", store.Filter{CustomerID: "c2"}, []*cases.Case{c2}},
		{"customer and another severity", store.Filter{CustomerID: "c2", MinSeverity: alert.Medium}, nil},
		{"resolved", store.Filter{States: []cases.State{cases.Resolved}}, nil},
	}
	for _, tt := range filters {
		var want []string
		for _, c := range tied {
			if tt.f.Match(c) {
				want = append(want, c.ID)
			}
		}
		want = append(want, ids(tt.want...)...)
		if got, sizes := f.pages(t, store.Query{Filter: tt.f, Limit: 2}, 4); !slices.Equal(got, want) {
			t.Errorf("%s: listed %v in pages %v, want %v", tt.name, got, sizes, want)
		}
	}
}

// A page of a state index ends on a case that then leaves the state: the
// next page starts just past where it was, among the cases opened in the
// same millisecond too.
func TestListAfterTheLastCaseChangedState(t *testing.T) {
	f := setup(t)
	oldest := f.open(t, "a", alert.High, "loyal", t0)
	var tied []*cases.Case
	for _, name := range []string{"b", "c", "d", "e"} {
		tied = append(tied, f.open(t, name, alert.High, "loyal", t0.Add(time.Minute)))
	}
	slices.SortFunc(tied, func(a, b *cases.Case) int { return strings.Compare(b.ID, a.ID) })
	newest := f.open(t, "f", alert.High, "loyal", t0.Add(2*time.Minute))
	q := store.Query{Filter: store.Filter{States: []cases.State{cases.Open}}, Limit: 3}
	first, next, err := f.st.List(context.Background(), "t", q)
	if want := []string{newest.ID, tied[0].ID, tied[1].ID}; err != nil || !slices.Equal(ids(first...), want) || next == nil {
		t.Fatalf("first page %v, next %v, %v; want %v", ids(first...), next, err, want)
	}
	f.acknowledge(t, tied[1].CustomerID, t0.Add(time.Hour)) // the page's last case
	q.After = next
	rest, sizes := f.pages(t, q, 3)
	if want := ids(tied[2], tied[3], oldest); !slices.Equal(rest, want) {
		t.Errorf("after the change: %v in pages %v, want %v", rest, sizes, want)
	}
}

// A filter that rejects most cases returns short pages with a cursor when
// it reaches the scan bound, and the caller reaches every case.
func TestListScanBound(t *testing.T) {
	f := setup(t)
	rare := f.open(t, "rare", alert.Low, "lost", t0)
	for i := range store.ScanFactor + 2 {
		f.open(t, "c"+string(rune('a'+i)), alert.Low, "loyal", t0.Add(time.Duration(i+1)*time.Minute))
	}
	q := store.Query{Filter: store.Filter{Tier: "lost"}, Limit: 1}
	cs, next, err := f.st.List(context.Background(), "t", q)
	if err != nil || len(cs) != 0 || next == nil {
		t.Fatalf("first call: %d cases, next %v, %v; want none and a cursor", len(cs), next, err)
	}
	got, sizes := f.pages(t, q, 4)
	if !slices.Equal(got, []string{rare.ID}) || len(sizes) < 2 {
		t.Errorf("listed %v in pages %v, want the one lost case over several calls", got, sizes)
	}
}

func TestOpened(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	at := map[string]time.Duration{
		"before": -time.Millisecond, "start": 0, "same-ms": 500 * time.Microsecond,
		"hour": time.Hour, "end": 2 * time.Hour,
	}
	byCustomer := map[string]string{}
	for name, d := range at {
		byCustomer[f.open(t, name, alert.Medium, "loyal", t0.Add(d)).ID] = name
	}
	tests := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"all", -time.Hour, 3 * time.Hour, []string{"before", "end", "hour", "same-ms", "start"}},
		{"end excluded", 0, 2 * time.Hour, []string{"hour", "same-ms", "start"}},
		{"within a millisecond", 400 * time.Microsecond, time.Hour + time.Microsecond, []string{"hour", "same-ms"}},
		{"empty window", time.Hour, time.Hour, nil},
		{"nothing opened", 3 * time.Hour, 4 * time.Hour, nil},
	}
	for _, tt := range tests {
		cs, err := f.st.Opened(ctx, "t", t0.Add(tt.from), t0.Add(tt.to), 10)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, byCustomer[c.ID])
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: opened %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := f.st.Opened(ctx, "t", t0.Add(-time.Hour), t0.Add(3*time.Hour), 4); !errors.Is(err, store.ErrTooMany) {
		t.Errorf("5 cases read with a limit of 4: %v, want ErrTooMany", err)
	}
	if cs, err := f.st.Opened(ctx, "other", t0.Add(-time.Hour), t0.Add(3*time.Hour), 10); err != nil || len(cs) != 0 {
		t.Errorf("another tenant: %d cases, %v", len(cs), err)
	}
}
