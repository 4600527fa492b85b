package store_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	st   *store.Store
	rd   *testkit.Redis
	eval *segment.Evaluator
}

func setup(t *testing.T) fixture {
	rules, err := tiers.Default()
	if err != nil {
		t.Fatal(err)
	}
	rd := testkit.StartRedis(t)
	return fixture{st: store.New(rd.Client, 48*time.Hour), rd: rd, eval: segment.NewEvaluator(profile.Configs{Default: profile.Default()}, rules)}
}

// bought is l's record with a purchase applied and evaluated.
func (f fixture) bought(l *store.Loaded, id string, amount int64) segment.Record {
	r := l.Record
	r.State.Apply(profile.Event{ID: id, At: now, Purchase: &profile.Money{Amount: amount, Currency: "USD"}})
	r, _, _ = f.eval.Reevaluate("t", r, now, id)
	return r
}

func (f fixture) load(t *testing.T, ids ...string) []store.Loaded {
	t.Helper()
	l, err := f.st.Load(context.Background(), "t", ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f fixture) commit(t *testing.T, ws ...store.Write) []bool {
	t.Helper()
	done, err := f.st.Commit(context.Background(), "t", ws)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func TestAWriterThatLoadedBeforeAnErasureCannotCommitAfterIt(t *testing.T) {
	f := setup(t)
	before := f.load(t, "x")[0] // not yet stored
	erase := f.load(t, "x")[0]
	if done := f.commit(t, store.Write{Customer: "x", Loaded: &erase, Now: now}); !done[0] {
		t.Fatal("erasure not committed")
	}
	r := f.bought(&before, "p1", 100)
	if done := f.commit(t, store.Write{Customer: "x", Loaded: &before, New: &r, Events: []string{"p1"}, Now: now}); done[0] {
		t.Error("a write loaded before the erasure was committed after it")
	}

	// The same with a customer who existed: loaded at version 1, erased,
	// created again at version 1 by a later event.
	y := f.load(t, "y")[0]
	r = f.bought(&y, "p1", 100)
	f.commit(t, store.Write{Customer: "y", Loaded: &y, New: &r, Events: []string{"p1"}, Now: now})
	stale := f.load(t, "y")[0]
	erase = f.load(t, "y")[0]
	f.commit(t, store.Write{Customer: "y", Loaded: &erase, Now: now})
	again := f.load(t, "y")[0]
	r = f.bought(&again, "p2", 7)
	if done := f.commit(t, store.Write{Customer: "y", Loaded: &again, New: &r, Events: []string{"p2"}, Now: now}); !done[0] {
		t.Fatal("the customer's next write after the erasure was refused")
	}
	r = f.bought(&stale, "p3", 1_000)
	if done := f.commit(t, store.Write{Customer: "y", Loaded: &stale, New: &r, Events: []string{"p3"}, Now: now}); done[0] {
		t.Error("a stale writer overwrote the customer created after the erasure")
	}
	if got := f.load(t, "y")[0]; got.Record.Value != 7 || got.Version != 1 {
		t.Errorf("y = %+v", got.Record)
	}
}

func TestConcurrentWritersOneWins(t *testing.T) {
	f := setup(t)
	a, b := f.load(t, "x")[0], f.load(t, "x")[0]
	ra, rb := f.bought(&a, "p1", 100), f.bought(&b, "p2", 200)
	if done := f.commit(t, store.Write{Customer: "x", Loaded: &a, New: &ra, Events: []string{"p1"}, Now: now}); !done[0] {
		t.Fatal("the first writer lost")
	}
	if done := f.commit(t, store.Write{Customer: "x", Loaded: &b, New: &rb, Events: []string{"p2"}, Now: now}); done[0] {
		t.Fatal("the second writer overwrote the first")
	}
	b = f.load(t, "x")[0]
	rb = f.bought(&b, "p2", 200)
	f.commit(t, store.Write{Customer: "x", Loaded: &b, New: &rb, Events: []string{"p2"}, Now: now})
	ls, err := f.st.Load(context.Background(), "t", []string{"x"}, [][]string{{"p1", "p2", "p3"}})
	if err != nil {
		t.Fatal(err)
	}
	if l := ls[0]; l.Record.Value != 300 || l.Version != 2 || !l.Seen["p1"] || !l.Seen["p2"] || l.Seen["p3"] {
		t.Errorf("after both: value %d, version %d, seen %v", l.Record.Value, l.Version, l.Seen)
	}
}

// TestCustomerIDsDoNotCollideWithOtherKeys: ids may hold ':'.
func TestCustomerIDsDoNotCollideWithOtherKeys(t *testing.T) {
	f := setup(t)
	for _, id := range []string{"x", "x:ev", "g:x", "tier:lost:risk"} {
		l := f.load(t, id)[0]
		r := f.bought(&l, id+"-p", 100)
		if done := f.commit(t, store.Write{Customer: id, Loaded: &l, New: &r, Events: []string{id + "-p"}, Now: now}); !done[0] {
			t.Fatalf("%s not committed", id)
		}
	}
	x := f.load(t, "x")[0]
	f.commit(t, store.Write{Customer: "x", Loaded: &x, Now: now})
	for _, id := range []string{"x:ev", "g:x", "tier:lost:risk"} {
		if l := f.load(t, id)[0]; !l.Found || l.Corrupt != nil || l.Record.Value != 100 {
			t.Errorf("%s after erasing x: %+v", id, l)
		}
	}
}

func TestACorruptRecordFailsAloneAndCanBeErased(t *testing.T) {
	f := setup(t)
	for _, id := range []string{"good", "bad"} {
		l := f.load(t, id)[0]
		r := f.bought(&l, "p", 100)
		f.commit(t, store.Write{Customer: id, Loaded: &l, New: &r, Events: []string{"p"}, Now: now})
	}
	if err := f.rd.Client.HSet(context.Background(), "fl:{t}:seg:c:bad", "r", "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	ls := f.load(t, "good", "bad")
	if ls[0].Corrupt != nil || !errors.Is(ls[1].Corrupt, store.ErrCorrupt) {
		t.Fatalf("corrupt: good %v, bad %v", ls[0].Corrupt, ls[1].Corrupt)
	}
	if done := f.commit(t, store.Write{Customer: "bad", Loaded: &ls[1], Now: now}); !done[0] {
		t.Fatal("the corrupt record could not be erased")
	}
	if l := f.load(t, "bad")[0]; l.Found {
		t.Errorf("still found after erasure: %+v", l)
	}
}

func TestCommitRefusesValuesThatAreNotNumbers(t *testing.T) {
	f := setup(t)
	l := f.load(t, "x")[0]
	r := f.bought(&l, "p", 100)
	r.Risk = math.NaN()
	if _, err := f.st.Commit(context.Background(), "t", []store.Write{{Customer: "x", Loaded: &l, New: &r, Now: now}}); err == nil {
		t.Error("a NaN churn risk was committed")
	}
	if l := f.load(t, "x")[0]; l.Found {
		t.Error("something of the refused write was stored")
	}
}
