package traffic

import (
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// Persona is a kind of customer.
type Persona uint8

const (
	PersonaLoyal          Persona = iota // buys often and much, happy, rarely complains
	PersonaPriceSensitive                // buys small baskets, lukewarm, talks about prices
	PersonaDeclining                     // started happy, sours with every experience
	PersonaNew                           // few purchases yet, opinions all over the place
	PersonaAboutToChurn                  // barely buys, unhappy, complains often
)

var personaNames = [...]string{"loyal", "price-sensitive", "declining", "new", "about-to-churn"}

func (p Persona) String() string {
	if int(p) < len(personaNames) {
		return personaNames[p]
	}
	return "Persona(" + strconv.Itoa(int(p)) + ")"
}

// Personas lists every persona.
func Personas() []Persona {
	return []Persona{PersonaLoyal, PersonaPriceSensitive, PersonaDeclining, PersonaNew, PersonaAboutToChurn}
}

// profile is how a persona behaves.
type profile struct {
	share  float64 // of the population
	buys   float64 // relative purchase frequency
	talks  float64 // relative feedback frequency
	basket float64 // order value, relative to the population's
	// mood is the mean satisfaction 0–1 behind every answer, spread by
	// moodSD; drift moves the mean by this much per feedback given.
	mood, moodSD, drift float64
	complaints          float64 // chance that a feedback is a complaint
}

// The complaint chances make about 3 % of all feedback a complaint, which is
// what consumer businesses typically see.
var profiles = [...]profile{
	PersonaLoyal:          {share: .25, buys: 4, talks: 1.5, basket: 1.3, mood: .85, moodSD: .10, complaints: .005},
	PersonaPriceSensitive: {share: .25, buys: 1.5, talks: 1, basket: .6, mood: .60, moodSD: .18, complaints: .02},
	PersonaDeclining:      {share: .15, buys: 1.5, talks: 1.2, basket: 1, mood: .80, moodSD: .12, drift: -.03, complaints: .04},
	PersonaNew:            {share: .25, buys: 1, talks: .8, basket: .9, mood: .70, moodSD: .22, complaints: .015},
	PersonaAboutToChurn:   {share: .10, buys: .3, talks: 1.2, basket: 1, mood: .25, moodSD: .15, complaints: .12},
}

// touchpoint is a moment of truth: the channels feedback on it comes
// through, and what a complaint about it is usually about.
type touchpoint struct {
	name      string
	weight    float64
	channels  []intakev1.Channel
	complaint intakev1.ComplaintCategory
	order     bool // feedback on it usually names an order
}

var (
	touchpoints = []touchpoint{
		{"delivery", 30, channels(intakev1.Channel_CHANNEL_APP, intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_EMAIL), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY, true},
		{"checkout", 20, channels(intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_APP), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_BILLING, true},
		{"support", 20, channels(intakev1.Channel_CHANNEL_PHONE, intakev1.Channel_CHANNEL_CHAT, intakev1.Channel_CHANNEL_EMAIL), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_SERVICE, false},
		{"app", 10, channels(intakev1.Channel_CHANNEL_APP), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_PRODUCT, false},
		{"product", 10, channels(intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_APP, intakev1.Channel_CHANNEL_SOCIAL), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_PRODUCT, true},
		{"store", 5, channels(intakev1.Channel_CHANNEL_STORE), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_STAFF, false},
		{"returns", 5, channels(intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_EMAIL, intakev1.Channel_CHANNEL_STORE), intakev1.ComplaintCategory_COMPLAINT_CATEGORY_SERVICE, true},
	}
	touchpointWeights = func() []float64 {
		w := make([]float64, len(touchpoints))
		for i, t := range touchpoints {
			w[i] = t.weight
		}
		return w
	}()
)

func channels(cs ...intakev1.Channel) []intakev1.Channel { return cs }

// The surveys a feedback comes from, in these shares: an NPS survey, a
// post-interaction CSAT survey, an effort (CES) survey, a SERVQUAL
// questionnaire, or a free-text review.
const (
	surveyNPS = iota
	surveyCSAT
	surveyCES
	surveyServqual
	surveyReview
)

var surveyWeights = []float64{surveyNPS: 45, surveyCSAT: 30, surveyCES: 10, surveyServqual: 5, surveyReview: 10}

// feedback makes a feedback by c without recording it: every answer follows
// one draw of the customer's mood.
func (g *Generator) feedback(c *customer, now time.Time) *intakev1.Feedback {
	p := profiles[c.persona]
	tp := touchpoints[pick(g.rng, touchpointWeights)]
	mean := p.mood
	if p.drift != 0 {
		mean = max(mean+p.drift*float64(c.given), .3) // soured, but not as far as the about-to-churn
	}
	mood := clamp(mean+p.moodSD*g.rng.NormFloat64(), 0, 1)
	complaint := g.rng.Float64() < p.complaints
	if complaint {
		mood = min(mood, .3) // nobody complains in a good mood
	}
	fb := &intakev1.Feedback{
		EventId:    g.nextID(),
		CustomerId: c.id,
		OccurredAt: timestamppb.New(now),
		Channel:    tp.channels[g.rng.IntN(len(tp.channels))],
		Touchpoint: tp.name,
		Attributes: map[string]string{"region": c.region},
	}
	if tp.order && c.lastOrder != "" {
		fb.Order = &intakev1.Order{OrderId: c.lastOrder, Amount: &intakev1.Money{AmountMinor: c.lastAmount, Currency: "USD"}}
	}
	if complaint {
		category := tp.complaint
		if c.persona == PersonaPriceSensitive && g.rng.IntN(2) == 0 {
			category = intakev1.ComplaintCategory_COMPLAINT_CATEGORY_BILLING
		}
		texts := complaintTexts[category]
		fb.Complaint = &intakev1.Complaint{Category: category, Description: texts[g.rng.IntN(len(texts))]}
		g.maybe(.8, func() { fb.Comment = g.comment(c, mood) })
		g.maybe(.3, func() { fb.Nps = g.nps(mood) })
		return fb
	}
	switch pick(g.rng, surveyWeights) {
	case surveyNPS:
		fb.Nps = g.nps(mood)
		g.maybe(.5, func() { fb.Comment = g.comment(c, mood) })
	case surveyCSAT:
		fb.Csat = proto.Int32(g.scale(mood, 1, 5, .4))
		g.maybe(.5, func() { fb.Ces = g.ces(mood) })
		g.maybe(.3, func() { fb.Comment = g.comment(c, mood) })
	case surveyCES:
		fb.Ces = g.ces(mood)
		g.maybe(.2, func() { fb.Comment = g.comment(c, mood) })
	case surveyServqual:
		fb.Servqual = g.servqual(c, mood)
		fb.Csat = proto.Int32(g.scale(mood, 1, 5, .4))
	case surveyReview:
		fb.Comment = g.comment(c, mood)
	}
	return fb
}

// maybe calls f with probability p.
func (g *Generator) maybe(p float64, f func()) {
	if g.rng.Float64() < p {
		f()
	}
}

// scale maps a mood 0–1 onto the answer scale lo–hi, with answer noise sd
// (in scale points).
func (g *Generator) scale(mood float64, lo, hi int32, sd float64) int32 {
	v := float64(lo) + mood*float64(hi-lo) + sd*g.rng.NormFloat64()
	return int32(clamp(math.Round(v), float64(lo), float64(hi)))
}

func (g *Generator) nps(mood float64) *int32 { return proto.Int32(g.scale(mood, 0, 10, .7)) }

// ces is effort, 1 (very low) to 7: the happier, the less effort.
func (g *Generator) ces(mood float64) *int32 { return proto.Int32(8 - g.scale(mood, 1, 7, .6)) }

// servqual rates two to five dimensions: expectations are high (loyal
// customers expect the most), perception follows the mood.
func (g *Generator) servqual(c *customer, mood float64) *intakev1.Servqual {
	expect := int32(5)
	if c.persona == PersonaLoyal {
		expect = 6
	}
	rate := func() *intakev1.ServqualRating {
		e := int32(clamp(float64(expect)+math.Round(.7*g.rng.NormFloat64()), 1, 7))
		return &intakev1.ServqualRating{Expectation: e, Perception: g.scale(mood, 1, 7, .6)}
	}
	sq := &intakev1.Servqual{}
	dims := []**intakev1.ServqualRating{&sq.Reliability, &sq.Responsiveness, &sq.Assurance, &sq.Empathy, &sq.Tangibles}
	n := 2 + g.rng.IntN(4)
	for _, i := range g.rng.Perm(len(dims))[:n] {
		*dims[i] = rate()
	}
	return sq
}

// comment is a phrase in the tone of the mood: seven in ten in English, the
// rest in Chinese, most with a language tag (intake detects the rest).
// Price-sensitive customers talk about prices half of the time.
func (g *Generator) comment(c *customer, mood float64) *intakev1.Comment {
	t := neutral
	switch {
	case mood >= .7:
		t = positive
	case mood < .4:
		t = negative
	}
	lang := "en"
	if g.rng.Float64() < .3 {
		lang = "zh-CN"
	}
	set := phrases
	if c.persona == PersonaPriceSensitive && g.rng.IntN(2) == 0 {
		set = pricePhrases
	}
	list := set[lang][t]
	cm := &intakev1.Comment{Text: list[g.rng.IntN(len(list))]}
	if g.rng.Float64() < .7 {
		cm.Language = lang
	}
	return cm
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }
