"""Message templates of the demo world, English and Chinese (docs/domain.md, "Who talks").

Placeholders: {me} agent name, {platform}, {hotel}, {city}, {asks} the open price requests ("620 for
the Deluxe King and 480 for the Standard Twin"), {deal} the agreed prices, {room}/{price}/{net_at}
the first open ticket, {competitor}/{comp_price} a real competitor of the case, {benefit} an allowed
benefit, {offer} the hotel's offer, {date} the start date.
"""

from __future__ import annotations

PLATFORM = {"en": "TripNest", "zh": "旅巢"}
AGENT_NAMES = {"en": ("Lily", "Kevin", "Amy", "Jason", "Grace", "Leo"), "zh": ("小林", "小王", "小陈", "小周")}
DATES = {"en": ("tomorrow", "next Monday", "1 December", "this Friday"), "zh": ("明天", "下周一", "12月1日", "本周五")}
OBJECTIONS = ("cost", "cheapest", "net_floor", "parity", "peak", "owner", "what_do_we_get")

EN_AGENT = {
    "greeting": (
        "Hi, this is {me} from {platform}'s hotel partnerships team. Do you have a minute to talk about "
        "{hotel}'s prices for the coming weeks?",
        "Good morning! {me} here, your account manager at {platform}. Could I take one minute of your time?",
        "Hello, I'm {me} from {platform}. Thanks for working with us - may I ask you something quick?",
    ),
    "request": (
        "Thanks! Travellers searching {city} this month are very price-sensitive. Would {asks} work for you?",
        "Thank you. I'd like to suggest {asks} - that puts you right where guests are booking.",
        "Great, thanks. Could we set {asks}? It would help your listing a lot in the next few weeks.",
    ),
    "persuade": (
        "I understand. For reference, {competitor} nearby sells a similar room at {comp_price}, so guests "
        "compare you directly. With {asks} we can also give you {benefit}.",
        "Totally get it. Right now {competitor} shows {comp_price} and takes many of the clicks in {city}. "
        "A better price usually lifts conversion quickly, and we can add {benefit}.",
    ),
    "cost": (
        "I hear you, costs have gone up for everyone. A slightly lower price tends to bring more bookings, "
        "so the total usually comes out ahead. {competitor} is at {comp_price}; could we try {asks} for two weeks?",
    ),
    "cheapest": (
        "You're right that your price is fair for the quality. On our site though, {competitor} is at "
        "{comp_price}, so guests see you as a bit higher. Could we try {asks}?",
    ),
    "net_floor": (
        "Understood, you need to protect what you receive. At {price} for the {room} you would still "
        "receive about {net_at} after commission. Would that work?",
    ),
    "parity": (
        "That makes sense, parity matters. The new price can apply to weekdays or a member rate, which "
        "keeps parity with other channels. Would {asks} work on that basis?",
    ),
    "peak": (
        "I understand, demand is strong right now. Right after the peak, guests in {city} book mostly on "
        "price; could we set {asks} from next week?",
    ),
    "owner": (
        "Of course. Could you tell your owner that {competitor} is at {comp_price}, and that with {asks} "
        "we can add {benefit}? I'll check back tomorrow.",
    ),
    "what_do_we_get": (
        "Good question. With {asks} we can give you {benefit}, and a better price usually lifts "
        "conversion within days.",
    ),
    "chase": (
        "Thank you, that's a real step. Could we meet at {asks}? {competitor} is at {comp_price}, so that "
        "would keep you in front.",
        "Appreciate it! If we make it {asks}, you'd be the best value in {city} for that room type. Could you do that?",
    ),
    "close": (
        "Great, thank you! To confirm: {deal}, starting {date}. I'll update it on {platform} today and it "
        "goes live within the hour.",
        "Wonderful, thanks a lot. So {deal} from {date}; I'll set it up today and send you a note once it's live.",
    ),
    "close_now": ("That works, thank you! To confirm: {deal}, starting {date}. I'll update it on {platform} today.",),
    "close_partial": (
        "Thank you, {deal} is a good start. I'll update it today, starting {date}; if you can do more "
        "around the holidays, just tell me.",
    ),
    "close_refused": (
        "No problem, thank you for your time. If anything changes I'm here; I'll check in again next month.",
    ),
    "follow_up": (
        "Hi, just following up on my message about {hotel}'s prices. Whenever you have a minute, I'd be "
        "glad to hear your view.",
    ),
    "later": ("No problem, thanks for letting me know. I'll check back next week.",),
}

EN_HOTEL = {
    "ack": ("hi, yes?", "ok go ahead", "busy now, quick", "yes what's up", "hello, what is it about"),
    "cost": (
        "costs went up a lot this year",
        "cleaning and staff cost more now, hard to lower",
        "hmm our costs are high",
    ),
    "cheapest": ("we are already cheap", "our price is already the lowest around here"),
    "net_floor": ("can't go below our net", "after your commission we get too little"),
    "parity": ("we keep the same price on all channels", "rate parity, can't change only for you"),
    "peak": ("it's peak season now, no discount", "weekend is full anyway"),
    "owner": ("owner decides, ask my boss tomorrow", "not my decision, I need to ask the GM"),
    "what_do_we_get": ("what do we get if we lower?", "and what's in it for us?"),
    "counter": ("ok {offer} max", "can do {offer}, no lower", "{offer} is the best I can do", "hmm maybe {offer}"),
    "accept": ("ok fine, {offer}", "alright, {offer} then", "ok deal at {offer}"),
    "give_in": ("we can do {offer}", "ok {offer} is fine for us", "sure, {offer} from tomorrow"),
    "hold": ("sorry, {offer} is really the lowest", "no, stays {offer}"),
    "refuse": ("no, we won't change the price", "sorry not possible now", "not interested, thanks"),
    "late": ("sorry was busy. not now", "busy this week, talk later"),
    "thanks": ("ok thanks", "ok", "thx"),
}

ZH_AGENT = {
    "greeting": (
        "您好，我是{platform}酒店合作部的{me}，想占用您一分钟，聊一下{hotel}近期的房价，方便吗？",
        "您好！我是{platform}的客户经理{me}，感谢一直以来的合作，想跟您简单沟通一下。",
    ),
    "request": (
        "谢谢！这个月来{city}的客人对价格很敏感，{asks}可以吗？",
        "好的，谢谢您。想跟您商量一下，{asks}，这样在同区域会更有竞争力。",
    ),
    "persuade": (
        "理解的。供您参考，附近的{competitor}类似房型现在卖{comp_price}元，客人会直接比较。{asks}的话，我们还可以给您{benefit}。",
    ),
    "cost": (
        "理解，今年大家成本都涨了。价格稍微调低一点通常会带来更多订单，总收入反而更好。{competitor}现在是{comp_price}元，{asks}先试两周可以吗？",
    ),
    "cheapest": (
        "您的价格对这个品质确实很实在。不过在我们平台上，{competitor}是{comp_price}元，客人会觉得您这边稍高一点。{asks}可以试试吗？",
    ),
    "net_floor": (
        "明白，您要保证到手的价格。{room}售价{price}元的话，扣除佣金后您到手大约{net_at}元，这样可以接受吗？",
    ),
    "parity": ("理解，价格一致很重要。新价格可以只用于平日或会员价，不影响其他渠道。{asks}可以吗？",),
    "peak": ("明白，现在需求确实旺。旺季过后{city}的客人很看价格，从下周开始{asks}可以吗？",),
    "owner": (
        "好的。麻烦您跟老板提一下，{competitor}现在是{comp_price}元，{asks}的话我们可以提供{benefit}。我明天再跟您确认。",
    ),
    "what_do_we_get": ("好问题。{asks}的话，我们可以给您{benefit}，价格有优势转化也会明显提升。",),
    "chase": ("谢谢您，已经很有诚意了。能不能再往前一步，{asks}？{competitor}是{comp_price}元，这样您会更有优势。",),
    "close": ("太好了，谢谢您！确认一下：{deal}，从{date}开始。我今天就在{platform}上更新，一小时内生效。",),
    "close_now": ("可以的，谢谢您！确认一下：{deal}，从{date}开始。我今天就在{platform}上更新。",),
    "close_partial": (
        "谢谢您，{deal}已经是很好的开始了。我今天更新，从{date}开始；节假日如果还能再优惠，随时告诉我。",
    ),
    "close_refused": ("没关系，谢谢您抽时间。有任何变化随时找我，下个月我再跟您联系。",),
    "follow_up": ("您好，跟进一下之前关于{hotel}房价的消息，您方便的时候回复我就好，谢谢！",),
    "later": ("好的，不打扰您，下周我再跟您联系。",),
}

ZH_HOTEL = {
    "ack": ("你好，什么事？", "嗯，你说", "在忙，快说", "您好，哪位"),
    "cost": ("今年成本涨了很多", "人工和布草都涨价了，降不了"),
    "cheapest": ("我们已经很便宜了", "周边我们最便宜了啊"),
    "net_floor": ("再低就低于我们底价了", "扣完佣金我们到手太少了"),
    "parity": ("我们各个渠道价格要一致的", "不能只给你们降"),
    "peak": ("现在是旺季，不打折", "周末本来就满房"),
    "owner": ("这个要老板定，明天再说吧", "我做不了主，要问一下总经理"),
    "what_do_we_get": ("降了我们有什么好处？", "那我们能得到什么？"),
    "counter": ("最多{offer}", "{offer}吧，不能再低了", "{offer}是最低了", "嗯…{offer}可以考虑"),
    "accept": ("行吧，{offer}", "好的，那就{offer}", "可以，{offer}成交"),
    "give_in": ("我们可以做{offer}", "{offer}没问题", "可以，明天开始{offer}"),
    "hold": ("不好意思，{offer}真的是最低了", "不行，还是{offer}"),
    "refuse": ("不降了，谢谢", "现在不行", "没兴趣，谢谢"),
    "late": ("刚才在忙，现在不考虑", "这周很忙，以后再说"),
    "thanks": ("好的谢谢", "好", "嗯嗯"),
}

AGENT = {"en": EN_AGENT, "zh": ZH_AGENT}
HOTEL = {"en": EN_HOTEL, "zh": ZH_HOTEL}
NO_REPLY_NOTE = {"en": "No reply from the hotel for 24 hours.", "zh": "酒店24小时未回复。"}


def price_list(items: list[tuple[str, int]], *, language: str) -> str:
    """'620 for the Deluxe King and 480 for the Standard Twin' / '豪华大床房620元，标准双床房480元'.

    >>> price_list([("Deluxe King", 620)], language="en")
    '620 for the Deluxe King'
    """
    if language == "zh":
        return "，".join(f"{room}{price}元" for room, price in items)
    parts = [f"{price} for the {room}" for room, price in items]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def offer_list(prices: list[int], *, rooms: list[str], language: str) -> str:
    """A hotel's terse offer: '650' for one ticket, '650 deluxe, 470 twin' for several."""
    if len(prices) == 1:
        return str(prices[0])
    sep = "，" if language == "zh" else ", "
    return sep.join(
        f"{room.split()[0].lower() if language == 'en' else room} {p}" for room, p in zip(rooms, prices, strict=True)
    )
