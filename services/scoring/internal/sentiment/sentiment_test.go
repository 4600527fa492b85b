package sentiment

import (
	"slices"
	"strings"
	"testing"
)

func scorer(t testing.TB) *Scorer {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPolarityNegationIntensity(t *testing.T) {
	s := scorer(t)
	get := func(text string) float64 { return s.Sentiment(text, "").Score }
	for _, tc := range []struct {
		name   string
		higher string // scores above lower
		lower  string
	}{
		{"positive above neutral", "good", "the parcel"},
		{"neutral above negative", "the parcel", "bad"},
		{"negation flips", "good", "not good"},
		{"negated positive is negative", "ok", "not good"},
		{"negated negative is positive", "not bad", "ok"},
		{"negation is softer than the opposite", "not good", "bad"},
		{"intensifier strengthens", "very good", "good"},
		{"intensifier strengthens negative", "bad", "very bad"},
		{"downtoner weakens", "slightly bad", "bad"},
		{"contraction negates", "it works", "it doesn't work"},
		{"but ends negation", "not cheap, but good", "not good"},
		{"zh positive", "满意", "包裹"},
		{"zh negation flips", "满意", "不满意"},
		{"zh negated is negative", "包裹", "不满意"},
		{"zh intensifier", "非常好", "好"},
		{"zh intensifier negative", "差", "非常差"},
		{"zh negated negative", "不差", "包裹"},
		{"zh punctuation ends negation", "不贵，好", "不好"},
		// Negation, both ways, in both languages.
		{"not good is negative", "the parcel", "not good"},
		{"not bad is positive", "not bad", "the parcel"},
		{"never reaches a few words on", "the parcel", "I would never recommend it"},
		{"n't negates unlisted contractions", "the parcel", "the staff weren’t helpful"},
		{"negation stays in its clause", "no refund, great phone", "great phone, no refund... bad"},
		{"negated negative word", "not unhappy", "the parcel"},
		{"zh double negation", "不是不好", "包裹"},
		{"a used negation gives way to the next", "not good", "not good and never friendly"},
		{"unresolved negation is a mild complaint", "the parcel arrived", "the parcel didn't arrive"},
		{"zh 不满意 is negative", "包裹", "不满意"},
		{"zh 不太好 is negative", "包裹", "不太好"},
		{"zh 不太好 milder than 很差", "不太好", "很差"},
		{"zh 没有问题 is positive", "没有问题", "包裹"},
		{"zh negator reaches past a degree adverb", "包裹", "不是很干净"},
		{"zh missing thing is a complaint", "房间有热水", "房间没有热水"},
		// Intensifiers and downtoners.
		{"extremely above very", "extremely helpful", "very helpful"},
		{"a bit bad above bad", "a bit slow", "slow"},
		{"zh 非常好 above 好", "非常好", "好"},
		{"zh 很好 above 好", "很好", "好"},
		{"zh 有点慢 above 慢", "有点慢", "慢"},
		{"zh 太差 below 差", "差", "太差"},
		// A modifier is not swallowed by a longer word: 很|满意.
		{"zh modifier before word", "很满意", "满意"},
		// Contrast: what follows "but" weighs more.
		{"but favours the second clause", "slow delivery but great food", "great food but slow delivery"},
		{"however favours the second clause", "expensive, however excellent", "excellent, however expensive"},
		{"great but slow is negative", "the parcel", "great food but slow service"},
		{"slow but great is positive", "slow service but great food", "the parcel"},
		{"zh 但是 favours the second clause", "价格有点贵，但是服务很好", "服务很好，但是价格有点贵"},
		{"zh 但是 decides the sign", "包裹", "房间很大，但是很脏"},
		{"zh 虽然 weakens its clause", "虽然有点旧，但是很干净", "包裹"},
		// Neutral shields: 出差 is a business trip, not 差.
		{"zh 出差 is not poor", "出差", "差"},
		{"zh 快递 is not fast", "快", "快递"},
		// Exclamation marks add emphasis.
		{"exclamation strengthens", "great!", "great"},
		{"inflections of listed words", "the sweetest phone", "the parcel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, l := get(tc.higher), get(tc.lower); h <= l {
				t.Errorf("%q = %.3f, %q = %.3f; want the first higher", tc.higher, h, tc.lower, l)
			}
		})
	}
}

func TestSentences(t *testing.T) {
	s := scorer(t)
	for _, tc := range []struct {
		text     string
		positive bool
	}{
		{"The delivery was fast and the driver was very friendly.", true},
		{"Terrible service, the parcel arrived damaged and nobody helped.", false},
		{"Not worth it. It stopped working after two days.", false},
		{"No problems at all, I would recommend it.", true},
		{"服务态度非常好，送货也很及时。", true},
		{"送货太慢了，客服态度差，非常失望。", false},
		{"房间不干净，而且很吵。", false},
		{"没有问题，很满意。", true},
		{"The room was nice, but the staff were rude and unhelpful.", false},
		{"Although it was a bit expensive, the service was excellent.", true},
		{"I don't like it.", false},
		{"The food was not great.", false},
		{"Not bad at all for the price.", true},
		{"房间虽然不大，但是很干净，服务也很热情。", true},
		{"早餐不太好吃，隔音也不好。", false},
		{"性价比很高，出差住这里很方便。", true},
		{"快递很慢，等了一个星期。", false},
	} {
		got := s.Sentiment(tc.text, "")
		if (got.Score > 0) != tc.positive || got.Score == 0 || got.Score < -1 || got.Score > 1 {
			t.Errorf("%q = %.3f (drivers %v), want positive=%v", tc.text, got.Score, got.Drivers, tc.positive)
		}
	}
}

func TestDriversExplainTheScore(t *testing.T) {
	s := scorer(t)
	got := s.Sentiment("Not good at all, very slow delivery", "en")
	if !slices.Equal(got.Drivers, []string{"very slow", "not good"}) {
		t.Errorf("drivers = %v, want strongest first with their modifiers", got.Drivers)
	}
	zh := s.Sentiment("不满意", "")
	if zh.Language != "zh" || !slices.Equal(zh.Drivers, []string{"不满意"}) {
		t.Errorf("zh = %+v", zh)
	}
	if none := s.Sentiment("The parcel arrived on Tuesday", ""); none.Score != 0 || len(none.Drivers) != 0 {
		t.Errorf("neutral text = %+v", none)
	}
}

func TestLanguage(t *testing.T) {
	for _, tc := range []struct{ text, tag, want string }{
		{"late delivery", "", "en"},
		{"送货太慢了", "", "zh"},
		{"iPhone 屏幕坏了", "", "zh"},
		{"late delivery", "zh-CN", "zh"},
		{"送货太慢了", "en-US", "en"},
		{"", "", "en"},
	} {
		if got := Language(tc.text, tc.tag); got != tc.want {
			t.Errorf("Language(%q, %q) = %s, want %s", tc.text, tc.tag, got, tc.want)
		}
	}
}

func TestParseLexiconRejectsBadLines(t *testing.T) {
	for _, bad := range []string{"word\tgood", "word\tgood\tx", "word\tgood\t2", "adverb\tvery\t1.5", "intensifier\tvery\t0"} {
		if _, err := ParseLexicon(strings.NewReader(bad), func(string) int { return 1 }); err == nil {
			t.Errorf("ParseLexicon(%q) accepted it", bad)
		}
	}
}

func BenchmarkSentiment(b *testing.B) {
	s := scorer(b)
	texts := []string{
		"The parcel arrived two days late and nobody answered the phone.",
		"送货太慢了，客服态度差，非常失望。",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Sentiment(texts[i%2], "")
	}
}
