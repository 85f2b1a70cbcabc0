"""English sentences for the built-in synthetic speech corpus: templates filled from word lists.

Ours because the corpus must be generated offline, deterministically and already normalised
(lowercase words of ``[a-z']``, numbers, dates and times spelled out the way they are spoken), and
a few hundred lines of templates give that with a vocabulary of over a thousand words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

GENERATOR_VERSION = "synth-text-1"  # bump when the sentences a seed gives change


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


# ---- numbers, dates and times, spelled out ------------------------------------------------------

_ONES = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_ORDINAL_ONES = _words(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
)
_ORDINAL_TENS = _words("_ _ twentieth thirtieth")
MONTHS = _words(
    "january february march april may june july august september october november december"
)
DAYS = _words("monday tuesday wednesday thursday friday saturday sunday")
_DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def number_words(n: int, use_and: bool = False) -> str:
    """Spell ``0 <= n < 1,000,000`` in words: 23 -> "twenty three", 105 -> "one hundred (and) five"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        head = _ONES[n // 100] + " hundred"
        return head if rest == 0 else head + (" and " if use_and else " ") + number_words(rest)
    rest = n % 1000
    head = number_words(n // 1000, use_and) + " thousand"
    if rest == 0:
        return head
    return head + (" and " if use_and and rest < 100 else " ") + number_words(rest, use_and)


def ordinal_words(n: int) -> str:
    """Spell ``1 <= n <= 31`` as an ordinal: 21 -> "twenty first"."""
    if n < 20:
        return _ORDINAL_ONES[n]
    if n % 10 == 0:
        return _ORDINAL_TENS[n // 10]
    return _TENS[n // 10] + " " + _ORDINAL_ONES[n % 10]


def year_words(year: int) -> str:
    """Spell a year the way it is read: 1984 -> "nineteen eighty four", 2005 -> "two thousand five"."""
    if 2000 <= year < 2010:
        return "two thousand" + ("" if year == 2000 else " " + _ONES[year - 2000])
    high, low = divmod(year, 100)
    if low == 0:
        return number_words(high) + " hundred"
    return number_words(high) + " " + ("oh " + _ONES[low] if low < 10 else number_words(low))


def _date(rng: random.Random) -> str:
    month = rng.randrange(12)
    day = ordinal_words(rng.randint(1, _DAYS_IN_MONTH[month]))
    style = rng.randrange(4)
    if style == 0:
        return f"the {day} of {MONTHS[month]}"
    if style == 1:
        return f"{MONTHS[month]} {day}"
    if style == 2:
        return f"{rng.choice(DAYS)} the {day} of {MONTHS[month]}"
    return f"the {day} of {MONTHS[month]} {year_words(rng.randint(1950, 2030))}"


def _time(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    minute = rng.choice([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, rng.randrange(60)])
    style = rng.randrange(5)
    if style == 0:
        return rng.choice(["noon", "midnight", "midday"]) if minute == 0 else _time(rng)
    if style == 1 and minute in (15, 30, 45):
        return {15: "quarter past ", 30: "half past ", 45: "quarter to "}[minute] + _ONES[
            hour if minute < 45 else hour % 12 + 1
        ]
    if style == 2 and minute % 5 == 0 and minute not in (15, 30, 45):
        if minute == 0:
            return _ONES[hour] + " o'clock"
        if minute < 30:
            return f"{number_words(minute)} past {_ONES[hour]}"
        return f"{number_words(60 - minute)} to {_ONES[hour % 12 + 1]}"
    spoken = _ONES[hour]
    if minute:
        spoken += " " + ("oh " + _ONES[minute] if minute < 10 else number_words(minute))
    suffix = rng.choice(["", "", " a m", " p m", " in the morning", " in the evening"])
    return spoken + suffix


def _price(rng: random.Random) -> str:
    unit, sub = rng.choice([("dollars", "cents"), ("pounds", "pence"), ("euros", "cents")])
    whole = rng.choice([rng.randint(2, 20), rng.randint(2, 99), rng.randint(100, 2500)])
    if rng.random() < 0.5:
        return f"{number_words(whole, rng.random() < 0.5)} {unit}"
    return f"{number_words(whole)} {unit} and {number_words(rng.randint(1, 99))} {sub}"


def _digits(rng: random.Random) -> str:
    names = ["oh"] + _ONES[1:10]
    return " ".join(names[rng.randrange(10)] for _ in range(rng.randint(3, 6)))


# ---- word lists ---------------------------------------------------------------------------------

NAMES = _words(
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony "
    "betty mark helen paul sandra steven donna andrew carol joshua ruth kevin sharon brian "
    "michelle george laura edward emily ronald kimberly timothy deborah jason amy jeffrey angela "
    "ryan anna jacob rebecca gary katherine nicholas emma eric olivia jonathan sophia stephen "
    "grace larry alice justin chloe scott lucy frank hannah peter rachel oliver charlotte harry "
    "amelia jack isabella noah mia liam ella lucas zoe henry victoria sam julia max nora leo "
    "clara adam ellen ben kate tom"
)
CITIES = _words(
    "london paris berlin madrid rome vienna dublin edinburgh glasgow manchester liverpool bristol "
    "leeds oxford cambridge boston chicago denver seattle houston dallas atlanta miami phoenix "
    "portland detroit toronto montreal vancouver sydney melbourne auckland tokyo delhi cairo "
    "lisbon prague warsaw budapest athens oslo stockholm helsinki copenhagen amsterdam brussels "
    "geneva zurich munich hamburg milan venice florence naples barcelona seville york cardiff "
    "belfast brighton"
)
COUNTRIES = _words(
    "france spain italy germany canada mexico brazil japan china india egypt kenya norway sweden "
    "finland ireland scotland wales england portugal greece turkey poland austria switzerland "
    "australia argentina chile peru morocco"
)
FOODS_COUNT = _words(  # plural, countable
    "apples bananas oranges lemons grapes strawberries cherries peaches pears plums tomatoes "
    "potatoes onions carrots peppers mushrooms cucumbers eggs biscuits cookies sandwiches "
    "sausages olives avocados pineapples melons muffins croissants pancakes dumplings lettuces "
    "beans peas nuts almonds walnuts raisins cupcakes bagels limes"
)
FOODS_MASS = _phrases(
    "bread, butter, cheese, milk, rice, pasta, flour, sugar, salt, pepper, honey, jam, yogurt, "
    "cream, coffee, tea, orange juice, soup, chicken, beef, pork, fish, salmon, tuna, bacon, ham, "
    "pizza, chocolate, cake, cereal, oats, garlic, ginger, spinach, broccoli, cabbage, celery, "
    "corn, lentils, vinegar, olive oil, ice cream, porridge, toast, curry, lemonade, water, wine"
)
ROOMS = _phrases(
    "kitchen, bedroom, bathroom, hallway, garage, garden, office, basement, attic, porch, "
    "living room, dining room, study, nursery, laundry room, cellar, guest room"
)
DEVICES = _phrases(
    "lights, lamp, heating, fan, radio, television, heater, oven, kettle, dishwasher, "
    "washing machine, coffee machine, speaker, music, printer, computer, air conditioning, "
    "ceiling fan, bedside lamp, projector, fridge, microwave, toaster, humidifier, alarm"
)
OBJECTS = _words(
    "table chair sofa bed shelf cupboard drawer window door mirror curtain carpet rug pillow "
    "blanket towel plate bowl cup mug glass spoon fork knife pan pot bottle basket bucket broom "
    "candle clock key wallet umbrella bag box envelope ticket letter book notebook pen pencil "
    "phone charger laptop camera bicycle ladder hammer suitcase passport map jacket parcel "
    "painting vase radio kettle helmet"
)
ANIMALS = _words(
    "dog cat horse cow sheep pig goat rabbit mouse bird duck goose chicken fox wolf bear deer "
    "lion tiger elephant monkey owl frog snake turtle whale dolphin squirrel hedgehog badger "
    "parrot swan bee butterfly spider"
)
CLOTHES = _words(
    "shirt jacket coat sweater jumper dress skirt scarf hat tie belt raincoat cardigan uniform "
    "blouse waistcoat"
)
CLOTHES_PLURAL = _words("trousers jeans shorts socks shoes boots sandals gloves slippers pyjamas")
COLOURS = _words("red blue green yellow orange purple pink brown black white grey silver golden")
ADJECTIVES = _words(
    "big small old new young tall short long quick slow quiet loud bright dark warm cold hot "
    "cool wet dry clean dirty heavy light cheap expensive easy difficult early late happy sad "
    "tired busy free full empty fresh strong weak soft hard sweet sour friendly lovely "
    "beautiful ugly strange simple modern ancient narrow wide deep shallow thick thin rich poor "
    "safe dangerous healthy sick hungry thirsty careful famous popular important useful perfect "
    "terrible wonderful comfortable delicious noisy crowded peaceful tiny huge gentle brave "
    "clever honest polite proud calm nervous lucky curious broken shiny rough smooth"
)
WEATHER = _words("sunny cloudy windy rainy foggy snowy stormy mild humid freezing chilly warm hot")
JOBS = _phrases(
    "teacher, doctor, nurse, engineer, farmer, baker, butcher, driver, pilot, lawyer, dentist, "
    "chef, waiter, plumber, carpenter, electrician, painter, writer, singer, dancer, student, "
    "scientist, manager, cashier, mechanic, gardener, librarian, pharmacist, journalist, "
    "photographer, architect, accountant, programmer, postman, firefighter, police officer, "
    "soldier, sailor, builder, cleaner, designer, musician, surgeon, vet, receptionist"
)
FAMILY = _words(
    "mother father brother sister son daughter aunt uncle cousin grandmother grandfather niece "
    "nephew wife husband friend neighbour boss colleague partner mum dad grandma grandpa"
)
PLACES = _phrases(
    "bank, bakery, library, museum, hospital, school, station, airport, park, market, "
    "supermarket, pharmacy, cinema, theatre, church, office, restaurant, cafe, hotel, gym, "
    "stadium, zoo, beach, harbour, bridge, post office, police station, bus stop, "
    "shopping centre, university, factory, castle, cathedral, village, farm, river, lake, "
    "mountain, forest, island, valley, swimming pool, town hall, car park, playground"
)
TRANSPORT = _words("bus train tram taxi car bike ferry plane boat coach subway")
HOBBIES = _phrases(
    "play tennis, play football, go swimming, go running, go fishing, ride a horse, read novels, "
    "cook dinner, watch films, paint pictures, play the piano, play the guitar, go hiking, "
    "go skiing, play chess, bake bread, grow vegetables, knit scarves, sing in a choir, "
    "take photographs, go sailing, visit museums, write poems, go dancing, play golf, "
    "go climbing, do yoga, go camping, play cards, watch birds, play the violin, learn languages, "
    "collect stamps, build model ships, play video games, go cycling, do crosswords"
)
ERRANDS = _phrases(
    "buy milk, call the dentist, pay the rent, water the plants, feed the cat, walk the dog, "
    "take out the rubbish, pick up the kids, book a taxi, return the library books, "
    "renew my passport, wash the car, clean the windows, post the letters, charge my phone, "
    "send the invoice, pack my suitcase, check the tyres, cancel the subscription, "
    "order a new printer, collect the parcel, visit grandma, buy a present, reply to the email, "
    "mow the lawn, iron my shirt, empty the dishwasher, fix the leaking tap, change the sheets, "
    "lock the back door, fill up the car, make an appointment, backup the laptop, tidy my desk"
)
VERBS_PAST = _words(
    "found lost painted cleaned fixed moved bought sold opened closed broke dropped carried "
    "borrowed washed checked ordered forgot packed wrapped delivered chose hid lent mended "
    "noticed picked posted repaired returned stole tidied photographed measured weighed "
    "polished replaced shared dried folded sorted"
)
WHEN_FUTURE = _phrases(
    "today, tomorrow, tonight, this morning, this afternoon, this evening, next week, "
    "next month, next year, at the weekend, later today, in an hour, tomorrow morning, "
    "tomorrow night, on monday, on friday, after lunch, before dinner, in a few minutes, soon"
)
WHEN_PAST = _phrases(
    "yesterday, last night, last week, last month, last year, this morning, two days ago, "
    "a week ago, on saturday, on sunday, earlier today, at the weekend, a long time ago, "
    "just now, recently, last summer, last winter, in the spring, in the autumn"
)
MUSIC = _words("jazz rock pop classical folk blues country reggae soul")
CUISINES = _words(
    "italian chinese indian mexican thai japanese greek french spanish turkish vietnamese "
    "korean lebanese"
)
DURATIONS = _words("minutes hours days weeks months years")
DISTANCES = _words("kilometres miles metres")
MEASURES = _words("kilograms litres grams bags bottles boxes packets jars tins cups spoonfuls")
SUBJECTS = _words(
    "maths history geography physics chemistry biology music art english french spanish "
    "economics philosophy"
)


# ---- templates ----------------------------------------------------------------------------------

_SLOTS: dict[str, list[str] | Callable[[random.Random], str]] = {
    "name": NAMES, "city": CITIES, "country": COUNTRIES, "food": FOODS_COUNT, "mass": FOODS_MASS,
    "room": ROOMS, "device": DEVICES, "object": OBJECTS, "animal": ANIMALS, "clothes": CLOTHES,
    "clothes_pl": CLOTHES_PLURAL, "colour": COLOURS, "adj": ADJECTIVES, "weather": WEATHER,
    "job": JOBS, "family": FAMILY, "place": PLACES, "transport": TRANSPORT, "hobby": HOBBIES,
    "errand": ERRANDS, "verb_past": VERBS_PAST, "future": WHEN_FUTURE, "past": WHEN_PAST,
    "music": MUSIC, "cuisine": CUISINES, "span": DURATIONS, "distance": DISTANCES, "measure": MEASURES, "subject": SUBJECTS, "day": DAYS,
    "month": MONTHS, "onoff": ["on", "off"],
    "date": _date, "time": _time, "price": _price, "digits": _digits,
    "n": lambda rng: number_words(rng.randint(2, 12)),
    "num": lambda rng: number_words(rng.randint(2, 99)),
    "big": lambda rng: number_words(rng.randint(100, 99999), rng.random() < 0.5),
    "year": lambda rng: year_words(rng.randint(1900, 2030)),
    "ord": lambda rng: ordinal_words(rng.randint(1, 31)),
}  # fmt: skip
# a callable slot's words, for vocabulary(): spelled numbers, dates, times, prices
_NUMBER_VOCAB = set(_ONES[1:] + _TENS[2:] + _ORDINAL_ONES[1:] + _ORDINAL_TENS[2:] + MONTHS + DAYS) | {
    "hundred", "thousand", "and", "the", "of", "oh", "noon", "midnight", "midday", "quarter",
    "half", "past", "to", "o'clock", "a", "p", "m", "in", "morning", "evening", "dollars",
    "cents", "pounds", "pence", "euros",
}  # fmt: skip

COMMANDS = [
    "turn {onoff} the {room} {device}",
    "turn the {device} {onoff} in the {room}",
    "switch {onoff} the {device} please",
    "set the heating to {num} degrees",
    "set an alarm for {time}",
    "wake me up at {time} {future}",
    "remind me to {errand} {future}",
    "remind me to {errand} at {time}",
    "add {food} to my shopping list",
    "add {mass} and {food} to the shopping list",
    "play some {music} music in the {room}",
    "call my {family} {future}",
    "send a message to {name} saying i will be there at {time}",
    "what is the weather like in {city} {future}",
    "how long does it take to drive to {city}",
    "set a timer for {num} minutes",
    "dim the {room} lights to {num} percent",
    "open the {room} window",
    "close the curtains in the {room}",
    "what time is it in {city} right now",
    "book a table for {n} people at {time}",
    "order a {transport} to the {place} for {time}",
    "find a good {cuisine} restaurant near the {place}",
    "how far is the nearest {place}",
    "cancel my alarm for {time}",
    "schedule a meeting with {name} on {date}",
    "start the {device} at {time}",
    "please don't forget to {errand} before {time}",
    "can you {errand} {future}",
    "let's {hobby} {future}",
]
STATEMENTS = [
    "{name} bought {n} {food} at the {place} {past}",
    "my {family} works as a {job} in {city}",
    "the {adj} {animal} was sleeping under the {object}",
    "it will be {weather} and {weather} in {city} {future}",
    "the temperature will reach {num} degrees on {day}",
    "the train to {city} leaves at {time} from platform {n}",
    "our flight to {city} was delayed by {num} minutes",
    "i need to pay the bill before {date}",
    "we are meeting {name} for lunch on {day} at {time}",
    "{name}'s birthday is on {date}",
    "the meeting has been moved to {date} at {time}",
    "i was born on {date}",
    "the package should arrive {future} between {time} and {time}",
    "the {job} said that the {object} was too {adj}",
    "{name} and {name} went to the {place} to buy some {clothes_pl}",
    "there were {big} people at the {place} {past}",
    "the price of {food} went up by {num} percent",
    "my {family} likes to {hobby} on {day}s",
    "{name} {verb_past} the {object} {past}",
    "i {verb_past} my {colour} {clothes} at the {place}",
    "the {colour} {transport} to {city} is always {adj}",
    "she moved to {country} in {year}",
    "he has lived in {city} since {year}",
    "the {job} from {city} {verb_past} a {adj} {object}",
    "we spent {n} {span} in {country} {past}",
    "the {place} is about {num} {distance} from here",
    "we need {n} {measure} of {mass} for the party",
    "the repairs will take {n} {span}",
    "this {clothes} costs {price}",
    "the tickets cost {price} each",
    "my phone number ends in {digits}",
    "the {place} opens at {time} on {day}s",
    "the {place} is closed on {date}",
    "{name} is studying {subject} at the university in {city}",
    "it was {weather} all day in {city} {past}",
    "the forecast says it will be {weather} {future}",
    "there is a {adj} {animal} in the {room}",
    "the {room} needs a new {object}",
    "i left my {object} in the {room}",
    "our {family} is coming to visit on the {ord} of {month}",
    "the concert starts at {time} on {date}",
    "{name} ran {num} kilometres {past}",
    "the {adj} {job} lives next to the {place}",
    "we had {mass} and {food} for breakfast",
    "i would like some {mass} with my {mass} please",
    "the recipe needs {n} {food} and some {mass}",
    "the bus from the {place} was {num} minutes late",
    "my {family} is a {job} and likes to {hobby}",
    "the {place} in {city} was very {adj}",
    "we drove {big} miles across {country} {past}",
    "the {animal} and the {animal} were playing near the {place}",
    "i have to {errand} and {errand} {future}",
    "{name} won {price} in a competition {past}",
    "the shop sold {big} {food} in {month}",
    "the school year starts on {date}",
    "the {job} works from {time} until {time}",
    "the population of the village is about {big}",
    "the {adj} {colour} {object} belongs to {name}",
    "i haven't seen {name} since {year}",
    "they didn't have any {food} at the {place}",
]
QUESTIONS = [
    "what time does the {place} open on {day}",
    "did you {errand} {past}",
    "where did you put the {object}",
    "have you ever been to {city}",
    "how much does this {colour} {clothes} cost",
    "would you like some {mass}",
    "are you going to the {place} {future}",
    "can we {hobby} {future}",
    "is it going to be {weather} in {city} {future}",
    "who left the {device} on in the {room}",
    "when is the next {transport} to {city}",
    "why is the {animal} in the {room}",
    "does your {family} like {cuisine} food",
    "which {place} is closest to the {place}",
    "how many {food} do we need for {n} people",
    "what did the {job} say about the {object}",
    "could you tell {name} that i called",
    "is {name} coming to the party on {date}",
]
_TEMPLATE_GROUPS = [(0.3, COMMANDS), (0.55, STATEMENTS), (0.15, QUESTIONS)]
_SLOT_RE = re.compile(r"\{(\w+)\}")
_TRANSCRIPT_RE = re.compile(r"^[a-z']+( [a-z']+)*$")


class SentenceGenerator:
    """A deterministic stream of normalised English sentences.

    Args:
        seed: the stream is a function of the seed only (its own ``random.Random``).

    Example: ``SentenceGenerator(0).sentences(3)`` -> three sentences such as
    ``"turn off the kitchen lights"``: lowercase words of ``[a-z']`` separated by single spaces.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def sentence(self) -> str:
        """The next sentence of the stream."""
        rng = self.rng
        pick = rng.random()
        group = 0
        while group < len(_TEMPLATE_GROUPS) - 1 and pick >= _TEMPLATE_GROUPS[group][0]:
            pick -= _TEMPLATE_GROUPS[group][0]
            group += 1
        template = rng.choice(_TEMPLATE_GROUPS[group][1])
        text = _SLOT_RE.sub(lambda m: self._fill(m.group(1)), template)
        if not _TRANSCRIPT_RE.match(text):  # a template or word list bug, not a user error
            raise AssertionError(f"template {template!r} gave a non-normalised sentence {text!r}")
        return text

    def sentences(self, n: int) -> list[str]:
        """The next ``n`` sentences of the stream."""
        return [self.sentence() for _ in range(n)]

    def _fill(self, slot: str) -> str:
        source = _SLOTS[slot]
        return self.rng.choice(source) if isinstance(source, list) else source(self.rng)


def vocabulary() -> set[str]:
    """Every word the generator can produce (template words, word lists, spelled numbers)."""
    words = set(_NUMBER_VOCAB)  # what the callable slots (numbers, dates, times) can say
    for _, templates in _TEMPLATE_GROUPS:
        for template in templates:
            for token in template.split():
                match = _SLOT_RE.search(token)
                if match is None:
                    words.add(token)
                    continue
                source = _SLOTS[match.group(1)]
                if isinstance(source, list):  # keep what is glued on: "{name}'s", "{day}s"
                    prefix, suffix = token[: match.start()], token[match.end() :]
                    for phrase in source:
                        words.update((prefix + phrase + suffix).split())
    return words
