// Package traffic makes synthetic but realistic customer traffic for
// feedloop's intake: purchases and feedback from a population of customers
// whose personas shape how often they buy, how much they spend, how they
// answer surveys and how often they complain, with duplicates and invalid
// events mixed in.
//
// It is pure: no I/O, no clock, no global randomness. The same Config and the
// same sequence of times give the same events, so a run can be repeated and
// a test can know exactly what it sent.
package traffic

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// Config sets up a Generator.
type Config struct {
	// Seed drives the sequence of events; event ids carry it, so runs with
	// different seeds never share an id.
	Seed uint64
	// Customers is the population size (at least 1). A customer's persona,
	// region, spend and habits depend only on their number, not on Seed nor
	// on the population size, so every run talks about the same customers.
	Customers int
	// PurchaseShare is the share of new events that are purchases; the
	// rest is feedback.
	PurchaseShare float64
	// DuplicateRate and InvalidRate are the shares of all events that repeat
	// an earlier valid event (same event id) and that break an intake rule.
	DuplicateRate, InvalidRate float64
}

// Kind is what an event is for the receiver.
type Kind uint8

const (
	KindFeedback  Kind = iota + 1 // new feedback
	KindPurchase                  // a new purchase
	KindDuplicate                 // an earlier feedback or purchase sent again, same event id
	KindInvalid                   // breaks one intake rule: must be rejected
)

var kindNames = [...]string{KindFeedback: "feedback", KindPurchase: "purchase", KindDuplicate: "duplicate", KindInvalid: "invalid"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one event to send: exactly one of Feedback and Activity is set.
type Event struct {
	Kind Kind
	// Persona is the customer's (for an invalid event, the customer it was
	// made from).
	Persona  Persona
	Feedback *intakev1.Feedback
	Activity *intakev1.Activity
	// Flaw names the rule an invalid event breaks, e.g. "nps-out-of-range".
	Flaw string
}

// EventID is the event's id.
func (e Event) EventID() string {
	if e.Feedback != nil {
		return e.Feedback.GetEventId()
	}
	return e.Activity.GetEventId()
}

// CustomerID is the event's customer id.
func (e Event) CustomerID() string {
	if e.Feedback != nil {
		return e.Feedback.GetCustomerId()
	}
	return e.Activity.GetCustomerId()
}

// Generator makes events. It is not safe for concurrent use.
type Generator struct {
	cfg       Config
	rng       *rand.Rand
	customers []customer
	// Cumulative weights for picking a buyer and a giver of feedback.
	buyers, talkers []float64
	idPrefix        string
	seq             uint64
	// recent holds the latest valid events, which duplicates repeat.
	recent     []Event
	recentNext int
}

// recentSize bounds how far back a duplicate reaches: far enough to cross
// batches and in-flight calls, near enough to stay in memory.
const recentSize = 4096

// customer is one member of the population.
type customer struct {
	id      string
	persona Persona
	region  string
	basket  float64 // mean order value in cents
	// given is how many feedback events they gave, which moves a declining
	// customer's mood; lastOrder is what their feedback can refer to.
	given      int
	lastOrder  string
	lastAmount int64
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		idPrefix: "lg-" + strconv.FormatUint(cfg.Seed, 36) + "-",
	}
	g.customers = make([]customer, cfg.Customers)
	g.buyers = make([]float64, cfg.Customers)
	g.talkers = make([]float64, cfg.Customers)
	var buys, talks float64
	for i := range g.customers {
		c, buy, talk := newCustomer(i + 1)
		buys, talks = buys+buy, talks+talk
		g.customers[i], g.buyers[i], g.talkers[i] = c, buys, talks
	}
	return g, nil
}

// Validate reports every setting out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Customers < 1 {
		errs = append(errs, fmt.Errorf("customers = %d, want at least 1", c.Customers))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"purchase share", c.PurchaseShare}, {"duplicate rate", c.DuplicateRate}, {"invalid rate", c.InvalidRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			errs = append(errs, fmt.Errorf("%s = %v, want 0 to 1", r.name, r.v))
		}
	}
	if c.DuplicateRate+c.InvalidRate > 1 {
		errs = append(errs, fmt.Errorf("duplicate rate + invalid rate = %v, want at most 1", c.DuplicateRate+c.InvalidRate))
	}
	return errors.Join(errs...)
}

// newCustomer makes customer number n (from 1), always the same: a persona
// drawn in the personas' shares, a Pareto-distributed mean order value, and
// how often they buy and give feedback (the persona's rate, varied per
// customer).
func newCustomer(n int) (c customer, buy, talk float64) {
	rng := rand.New(rand.NewPCG(uint64(n), 0x5eed))
	c.persona = Persona(pick(rng, personaShares))
	p := profiles[c.persona]
	c.id = fmt.Sprintf("c-%06d", n)
	c.region = regions[rng.IntN(len(regions))]
	c.basket = pareto(rng) * p.basket
	return c, p.buys * math.Exp(0.5*rng.NormFloat64()), p.talks * math.Exp(0.3*rng.NormFloat64())
}

var personaShares = func() []float64 {
	shares := make([]float64, len(profiles))
	for i, p := range profiles {
		shares[i] = p.share
	}
	return shares
}()

// pareto draws a mean order value in cents: Pareto with a $15 minimum and
// shape 1.2, so that about a fifth of customers bring three quarters of the
// revenue, capped at $5,000 so one draw cannot dominate a run.
func pareto(rng *rand.Rand) float64 {
	const minimum, shape, maximum = 1500, 1.2, 500000
	u := 1 - rng.Float64() // (0, 1]
	return min(minimum/math.Pow(u, 1/shape), maximum)
}

var regions = []string{"north", "south", "east", "west"}

// Next returns the next event, with now as its time.
func (g *Generator) Next(now time.Time) Event {
	r := g.rng.Float64()
	switch {
	case r < g.cfg.InvalidRate:
		return g.invalid(now)
	case r < g.cfg.InvalidRate+g.cfg.DuplicateRate && len(g.recent) > 0:
		ev := g.recent[g.rng.IntN(len(g.recent))]
		ev.Kind = KindDuplicate
		// A copy, so that the caller may hold or send both at once.
		if ev.Feedback != nil {
			ev.Feedback = proto.CloneOf(ev.Feedback)
		} else {
			ev.Activity = proto.CloneOf(ev.Activity)
		}
		return ev
	}
	ev := g.fresh(now)
	c := g.customerOf(ev)
	if ev.Feedback != nil {
		c.given++
	} else {
		c.lastOrder, c.lastAmount = ev.Activity.GetPurchase().GetOrderId(), ev.Activity.GetPurchase().GetAmount().GetAmountMinor()
	}
	g.remember(ev)
	return ev
}

// fresh makes a new valid feedback or purchase without recording it.
func (g *Generator) fresh(now time.Time) Event {
	if g.rng.Float64() < g.cfg.PurchaseShare {
		c := &g.customers[g.choose(g.buyers)]
		return Event{Kind: KindPurchase, Persona: c.persona, Activity: g.purchase(c, now)}
	}
	c := &g.customers[g.choose(g.talkers)]
	return Event{Kind: KindFeedback, Persona: c.persona, Feedback: g.feedback(c, now)}
}

func (g *Generator) customerOf(ev Event) *customer {
	// Ids are "c-" and the 1-based index, zero-padded.
	n, _ := strconv.Atoi(ev.CustomerID()[2:])
	return &g.customers[n-1]
}

func (g *Generator) remember(ev Event) {
	if len(g.recent) < recentSize {
		g.recent = append(g.recent, ev)
		return
	}
	g.recent[g.recentNext] = ev
	g.recentNext = (g.recentNext + 1) % recentSize
}

// nextID returns a new event id: the seed and a sequence number.
func (g *Generator) nextID() string {
	g.seq++
	return g.idPrefix + strconv.FormatUint(g.seq, 10)
}

// choose picks an index with the weights whose running sums are cum.
func (g *Generator) choose(cum []float64) int {
	i, _ := slices.BinarySearch(cum, g.rng.Float64()*cum[len(cum)-1])
	return min(i, len(cum)-1)
}

// pick picks an index with probability proportional to weights.
func pick(rng *rand.Rand, weights []float64) int {
	var total float64
	for _, w := range weights {
		total += w
	}
	r := rng.Float64() * total
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// Purchases happen on the web, in the app and in stores, in these shares.
var (
	purchaseChannels       = []intakev1.Channel{intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_APP, intakev1.Channel_CHANNEL_STORE}
	purchaseChannelWeights = []float64{45, 40, 15}
)

// purchase makes a purchase by c: around their mean order value, spread
// log-normally (some baskets are small, a few large).
func (g *Generator) purchase(c *customer, now time.Time) *intakev1.Activity {
	id := g.nextID()
	amount := max(int64(c.basket*math.Exp(0.35*g.rng.NormFloat64()-0.06)), 99)
	return &intakev1.Activity{
		EventId:    id,
		CustomerId: c.id,
		OccurredAt: timestamppb.New(now),
		Channel:    purchaseChannels[pick(g.rng, purchaseChannelWeights)],
		Purchase: &intakev1.Purchase{
			OrderId:   "o-" + id[3:],
			Amount:    &intakev1.Money{AmountMinor: amount, Currency: "USD"},
			ItemCount: int32(1 + min(g.rng.ExpFloat64()*1.5, 19)),
		},
		Attributes: map[string]string{"region": c.region},
	}
}
