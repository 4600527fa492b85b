package traffic

import intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

// tone is the sentiment a comment is written in.
type tone uint8

const (
	positive tone = iota
	neutral
	negative
)

// phrases are comments by language and tone, short and plain as survey
// comments are. Each uses words the scoring lexicons know, so its scored
// sentiment has the sign of its tone (checked against scoring's lexicon
// scorer when written: positives +0.4 to +0.8, negatives −0.2 to −0.8,
// neutrals near 0); keep that true when adding phrases.
var phrases = map[string][3][]string{
	"en": {
		positive: {
			"Great service, thank you!",
			"Delivery was fast and the packaging was perfect.",
			"Really happy with my order, will buy again.",
			"The staff were friendly and very helpful.",
			"Excellent quality, exactly as described.",
			"Checkout was quick and easy.",
			"Love the new app, it is so convenient.",
			"Support solved my problem in minutes. Impressed.",
		},
		neutral: {
			"The order arrived on the expected day.",
			"It was fine, nothing special.",
			"Checkout took a few steps.",
			"I called support about my order.",
			"The product is as described.",
			"Delivery came in the afternoon.",
		},
		negative: {
			"Terrible experience, the delivery was late again.",
			"The package arrived damaged and nobody helped.",
			"Very disappointed, the product broke after two days.",
			"Support was rude and useless.",
			"I was charged twice, this is unacceptable.",
			"The app keeps crashing at checkout, awful.",
			"Worst service ever, I want a refund.",
			"Waited an hour on the phone, horrible.",
		},
	},
	"zh-CN": {
		positive: {
			"服务很好，谢谢！",
			"送货很快，包装完好。",
			"非常满意，还会再买。",
			"客服态度很好，很有耐心。",
			"质量很好，和描述一样。",
			"结账方便快捷。",
		},
		neutral: {
			"订单按时到了。",
			"一般般吧。",
			"下午收到了货。",
			"我联系了客服。",
		},
		negative: {
			"送货太慢了。",
			"包裹破损，非常失望。",
			"客服态度很差。",
			"质量太差，用了两天就坏了。",
			"重复扣款，太糟糕了。",
			"服务很差，我要退款。",
		},
	},
}

// pricePhrases are what price-sensitive customers say about money.
var pricePhrases = map[string][3][]string{
	"en": {
		positive: {"Great value for the price, love the discount.", "Good deal, cheaper than elsewhere."},
		neutral:  {"Used a coupon at checkout.", "Waiting for the next sale."},
		negative: {"Too expensive, prices went up again.", "Shipping fees are ridiculous, not worth it."},
	},
	"zh-CN": {
		positive: {"价格实惠，优惠很好。"},
		neutral:  {"等下次打折再买。"},
		negative: {"太贵了，不值这个价。"},
	},
}

// complaintTexts describe complaints by category.
var complaintTexts = map[intakev1.ComplaintCategory][]string{
	intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY: {"Order arrived late", "Package arrived damaged", "Parcel never arrived"},
	intakev1.ComplaintCategory_COMPLAINT_CATEGORY_BILLING:  {"Charged twice", "Refund not received", "Wrong price charged"},
	intakev1.ComplaintCategory_COMPLAINT_CATEGORY_SERVICE:  {"No answer from support for days", "Return refused"},
	intakev1.ComplaintCategory_COMPLAINT_CATEGORY_STAFF:    {"Rude staff in the store"},
	intakev1.ComplaintCategory_COMPLAINT_CATEGORY_PRODUCT:  {"Product broke within a week", "App crashes at checkout"},
}
