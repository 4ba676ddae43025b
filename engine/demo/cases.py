"""Hotels and negotiation cases with consistent prices (docs/domain.md, "The case: prices on a ticket").

Invariants every generated ticket keeps: net < current, target < current, one competitor priced near
the target, and counter-offers strictly between target and current (or at/below target when the hotel
gives in at once). Prices are whole numbers rounded to 5 so replies read naturally.
"""

from __future__ import annotations

import random

# (type, base current price in CNY, name patterns); a resort costs more than a budget branch.
_HOTEL_TYPES = {
    "business": (620, ("{city} {word} Business Hotel", "{word} Tower Hotel {city}")),
    "resort": (1380, ("{word} Bay Resort", "{city} {word} Resort & Spa")),
    "budget": (260, ("{word} Express {city}", "Easy Stay {word} Branch")),
    "boutique": (880, ("The {word} House", "{word} Courtyard Inn")),
    "apartment": (540, ("{word} Residences {city}", "{word} Serviced Apartments")),
}
_CITIES = (
    ("Shanghai", "上海"),
    ("Hangzhou", "杭州"),
    ("Sanya", "三亚"),
    ("Chengdu", "成都"),
    ("Xiamen", "厦门"),
    ("Beijing", "北京"),
    ("Lijiang", "丽江"),
    ("Shenzhen", "深圳"),
    ("Qingdao", "青岛"),
    ("Guilin", "桂林"),
)
_WORDS = (
    "Harbour", "Jade", "Lotus", "Pine", "Silk Road", "Riverside", "Bamboo", "Golden Gate", "Lakeview",
    "Maple", "Orchid", "Sunrise", "Cloud", "Crescent", "Garden", "Peony", "Stone Bridge", "Coral",
)  # fmt: skip
_ROOMS = (
    ("Deluxe King", "豪华大床房", 1.0),
    ("Standard Twin", "标准双床房", 0.82),
    ("Superior Double", "高级大床房", 0.9),
    ("Family Suite", "家庭套房", 1.45),
    ("Sea View King", "海景大床房", 1.25),
    ("Executive Room", "行政房", 1.3),
    ("One-Bedroom Apartment", "一居室公寓", 1.2),
)
_COMPETITOR_SUFFIXES = ("Hotel", "Inn", "Suites", "Grand Hotel", "Plaza")
BENEFITS = {
    "en": (
        "homepage exposure for 7 days",
        "a 'good value' badge",
        "a weekend deals slot",
        "city list priority for 14 days",
        "a holiday campaign spot",
    ),
    "zh": ("首页曝光7天", "“超值”标签", "周末特惠推荐位", "城市列表优先展示14天", "节假日活动推荐位"),
}


def round5(value: float) -> int:
    """Round a price to the nearest 5 (hotels quote round figures).

    >>> round5(662.4), round5(663)
    (660, 665)
    """
    return int(5 * round(value / 5))


def hotel_pool(*, seed: int, size: int = 8) -> list[dict]:
    """``size`` distinct hotels, every type represented, each with 1–3 sellable rooms."""
    rng = random.Random(f"{seed}:hotels")
    types = list(_HOTEL_TYPES)
    hotels, names = [], set()
    while len(hotels) < size:
        kind = types[len(hotels) % len(types)]
        city, city_zh = rng.choice(_CITIES)
        base, patterns = _HOTEL_TYPES[kind]
        name = rng.choice(patterns).format(city=city, word=rng.choice(_WORDS))
        if name in names:
            name = f"{name} {len(hotels) + 1}"  # the pool outgrew the name patterns (benchmark scale)
        names.add(name)
        rooms = rng.sample(_ROOMS, k=rng.randint(1, 3))
        hotels.append(
            {
                "name": name,
                "type": kind,
                "city": city,
                "city_zh": city_zh,
                "base_price": base * rng.uniform(0.85, 1.2),
                "rooms": rooms,
            }
        )
    return hotels


def make_ticket(*, rng: random.Random, hotel: dict, room: tuple, index: int, language: str) -> dict:
    """One ticket with consistent prices and 1–2 competitors, one of them near the target."""
    room_en, room_zh, factor = room
    current = round5(hotel["base_price"] * factor * rng.uniform(0.9, 1.1))
    target = min(round5(current * rng.uniform(0.82, 0.93)), current - 20)
    commission = rng.choice((0.1, 0.12, 0.15))
    net = min(round5(current * (1 - commission)), current - 10)
    near = round5(target * rng.uniform(0.96, 1.03))
    competitors = [{"name": _competitor_name(rng, hotel), "price": float(near)}]
    for _ in range(rng.randint(0, 1)):
        price = round5(current * rng.uniform(0.85, 1.05))
        competitors.append({"name": _competitor_name(rng, hotel), "price": float(price)})
    # Floats, as the database returns them (DecimalField -> float): an exported case equals the generated one.
    return {
        "id": f"T{index + 1}",
        "room_type": room_zh if language == "zh" else room_en,
        "current_price": float(current),
        "net_price": float(net),
        "target_price": float(target),
        "currency": "CNY",
        "competitors": competitors,
    }


def _competitor_name(rng: random.Random, hotel: dict) -> str:
    word = rng.choice([w for w in _WORDS if w not in hotel["name"]])
    return f"{word} {rng.choice(_COMPETITOR_SUFFIXES)}"


def make_case(*, rng: random.Random, hotel: dict, n_tickets: int, language: str) -> dict:
    """A case in ``engine.task``'s schema for ``hotel`` with ``n_tickets`` of its rooms (repeats allowed)."""
    rooms = [hotel["rooms"][i % len(hotel["rooms"])] for i in range(n_tickets)]
    if n_tickets > len(hotel["rooms"]):
        rooms = rng.sample(_ROOMS, k=n_tickets)  # a hotel sells more rooms than its pool lists
    tickets = [make_ticket(rng=rng, hotel=hotel, room=room, index=i, language=language) for i, room in enumerate(rooms)]
    return {
        "hotel": {"name": hotel["name"], "type": hotel["type"], "city": hotel["city"]},
        "tickets": tickets,
        "benefits": rng.sample(BENEFITS[language], k=rng.randint(1, 2)),
        "language": language,
    }


def counter_offer(*, rng: random.Random, ticket: dict) -> int:
    """A hotel counter strictly between target and current.

    >>> t = {"current_price": 800, "target_price": 700}
    >>> all(700 < counter_offer(rng=random.Random(i), ticket=t) < 800 for i in range(50))
    True
    """
    low, high = int(ticket["target_price"]), int(ticket["current_price"])
    price = round5(low + (high - low) * rng.uniform(0.35, 0.75))
    return min(max(price, low + 5), high - 5) if high - low > 10 else low + (high - low) // 2


def giving_in_offer(*, rng: random.Random, ticket: dict) -> int:
    """A hotel offer at or just below the target: the agent must accept at once."""
    return int(ticket["target_price"]) - rng.choice((0, 0, 5, 10))
