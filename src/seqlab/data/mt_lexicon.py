"""The bilingual German/English lexicon of the built-in MT corpus, and the morphology it needs.

Ours because no library ships a small, regular German/English lexicon with genders, plurals and
verb forms that a generator can inflect offline: German articles, adjective endings (strong, weak,
mixed), weak nouns, dative plurals, present-tense conjugation with stem changes and separable
prefixes, and the English articles (a/an), plurals and verb forms that translate them.

Everything is lowercase. Multi-word English entries use "_" for spaces in the tables below.
"""

from __future__ import annotations

from dataclasses import dataclass

CASES = ("nom", "acc", "dat")
GENDERS = ("m", "f", "n", "pl")

# ---- German determiners and adjective endings ---------------------------------------------------

DEFINITE = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
# "dieser", "jeder": stem + ending.
DER_WORD_ENDINGS = {
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# "ein", "kein" and the possessives: stem + ending.
EIN_WORD_ENDINGS = {
    "nom": {"m": "", "f": "e", "n": "", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
ADJ_WEAK = {  # after der/dieser
    "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
    "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
    "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
}
ADJ_MIXED = {  # after ein/kein/mein (plural: like weak)
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
    "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
}
ADJ_STRONG = {  # no determiner, or after a number
    "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# Preposition + definite article contractions that German always makes.
CONTRACTIONS = {
    ("in", "dem"): "im",
    ("an", "dem"): "am",
    ("zu", "dem"): "zum",
    ("zu", "der"): "zur",
    ("bei", "dem"): "beim",
    ("von", "dem"): "vom",
    ("in", "das"): "ins",
}
POSSESSIVES = {"mein": "my", "dein": "your", "sein": "his", "ihr": "her", "unser": "our"}

# ---- English helpers ------------------------------------------------------------------------------

_AN_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "once")


def en_indefinite(next_word: str) -> str:
    """ "a" or "an" before ``next_word`` (by its sound, for the words of this lexicon)."""
    if next_word.startswith(("hour", "honest")):
        return "an"
    if next_word[0] in "aeiou" and not next_word.startswith(_AN_EXCEPTIONS):
        return "an"
    return "a"


# ---- nouns ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    """A noun: German singular, gender, plural (None: uncountable), English singular and plural."""

    de: str
    gender: str  # "m", "f" or "n"
    de_pl: str | None
    en: str
    en_pl: str | None
    cats: frozenset[str]
    de_weak: str | None = None  # weak masculine: the acc/dat singular form ("jungen")

    def de_form(self, case: str, plural: bool) -> str:
        """The German noun form for ``case`` (dative plural takes -n; weak nouns take -(e)n)."""
        if plural:
            assert self.de_pl is not None, f"{self.de} has no plural"
            if case == "dat" and not self.de_pl.endswith(("n", "s")):
                return self.de_pl + "n"
            return self.de_pl
        if self.de_weak is not None and case != "nom":
            return self.de_weak
        return self.de

    def en_form(self, plural: bool) -> str:
        """The English noun (plural or singular)."""
        return (self.en_pl if plural else self.en) or self.en


def _nouns(table: str, *cats: str) -> list[Noun]:
    """Parse lines "gender de_sg de_pl[/weak] | en_sg en_pl" ("-" = no plural)."""
    out = []
    for line in table.strip().splitlines():
        de_part, en_part = (p.split() for p in line.split("|"))
        gender, de, de_pl = de_part
        weak = None
        if "/" in de_pl:
            de_pl, weak = de_pl.split("/")
        en, en_pl = (w.replace("_", " ") for w in en_part)
        out.append(
            Noun(
                de=de,
                gender=gender,
                de_pl=None if de_pl == "-" else de_pl,
                en=en,
                en_pl=None if en_pl == "-" else en_pl,
                cats=frozenset(cats),
                de_weak=weak,
            )
        )
    return out


PEOPLE = _nouns(
    """
m mann männer | man men
f frau frauen | woman women
n kind kinder | child children
m junge jungen/jungen | boy boys
n mädchen mädchen | girl girls
m lehrer lehrer | teacher teachers
f lehrerin lehrerinnen | teacher teachers
m arzt ärzte | doctor doctors
f ärztin ärztinnen | doctor doctors
m nachbar nachbarn/nachbarn | neighbour neighbours
f nachbarin nachbarinnen | neighbour neighbours
m freund freunde | friend friends
f freundin freundinnen | friend friends
m bruder brüder | brother brothers
f schwester schwestern | sister sisters
m vater väter | father fathers
f mutter mütter | mother mothers
m onkel onkel | uncle uncles
f tante tanten | aunt aunts
m großvater großväter | grandfather grandfathers
f großmutter großmütter | grandmother grandmothers
m kollege kollegen/kollegen | colleague colleagues
f kollegin kolleginnen | colleague colleagues
m student studenten/studenten | student students
f studentin studentinnen | student students
m polizist polizisten/polizisten | police_officer police_officers
m kellner kellner | waiter waiters
f kellnerin kellnerinnen | waitress waitresses
m koch köche | cook cooks
m chef chefs | boss bosses
m sohn söhne | son sons
f tochter töchter | daughter daughters
""",
    "person",
)

# With a possessive, "frau" and "mann" are "wife" and "husband" (plural flag -> English).
POSSESSED_EN = {
    "frau": {False: "wife", True: "wives"},
    "mann": {False: "husband", True: "husbands"},
}

ANIMALS = _nouns(
    """
m hund hunde | dog dogs
f katze katzen | cat cats
n pferd pferde | horse horses
m vogel vögel | bird birds
f maus mäuse | mouse mice
f kuh kühe | cow cows
n kaninchen kaninchen | rabbit rabbits
f ente enten | duck ducks
""",
    "animal",
)

THINGS = _nouns(
    """
n buch bücher | book books
m brief briefe | letter letters
f zeitung zeitungen | newspaper newspapers
m schlüssel schlüssel | key keys
f tasche taschen | bag bags
n handy handys | phone phones
m computer computer | computer computers
m regenschirm regenschirme | umbrella umbrellas
f fahrkarte fahrkarten | ticket tickets
f armbanduhr armbanduhren | watch watches
f kamera kameras | camera cameras
m koffer koffer | suitcase suitcases
m rucksack rucksäcke | backpack backpacks
n geschenk geschenke | present presents
n bild bilder | picture pictures
m ball bälle | ball balls
f flasche flaschen | bottle bottles
n paket pakete | parcel parcels
f nachricht nachrichten | message messages
f zahnbürste zahnbürsten | toothbrush toothbrushes
m autoschlüssel autoschlüssel | car_key car_keys
f wasserflasche wasserflaschen | water_bottle water_bottles
f kinokarte kinokarten | cinema_ticket cinema_tickets
m bericht berichte | report reports
f postkarte postkarten | postcard postcards
""",
    "thing",
)
VEHICLES_PRIVATE = _nouns(
    """
n auto autos | car cars
n fahrrad fahrräder | bicycle bicycles
n motorrad motorräder | motorbike motorbikes
""",
    "thing",
    "vehicle",
)
VEHICLES_PUBLIC = _nouns(
    """
m zug züge | train trains
m bus busse | bus buses
f straßenbahn straßenbahnen | tram trams
n flugzeug flugzeuge | plane planes
n schiff schiffe | ship ships
f fähre fähren | ferry ferries
n taxi taxis | taxi taxis
""",
    "public",
)
CLOTHES = _nouns(
    """
f jacke jacken | jacket jackets
m mantel mäntel | coat coats
m hut hüte | hat hats
m schuh schuhe | shoe shoes
n kleid kleider | dress dresses
n hemd hemden | shirt shirts
m pullover pullover | sweater sweaters
m handschuh handschuhe | glove gloves
""",
    "clothes",
)
FOOD = _nouns(
    """
m apfel äpfel | apple apples
f banane bananen | banana bananas
m kuchen kuchen | cake cakes
n brötchen brötchen | bread_roll bread_rolls
f suppe suppen | soup soups
f pizza pizzas | pizza pizzas
m salat salate | salad salads
n ei eier | egg eggs
f tomate tomaten | tomato tomatoes
f kartoffel kartoffeln | potato potatoes
f birne birnen | pear pears
m apfelkuchen apfelkuchen | apple_cake apple_cakes
f erdbeere erdbeeren | strawberry strawberries
f wurst würste | sausage sausages
m geburtstagskuchen geburtstagskuchen | birthday_cake birthday_cakes
""",
    "food",
)
DRINKS = _nouns(
    """
m kaffee - | coffee -
m tee - | tea -
f milch - | milk -
m saft - | juice -
n wasser - | water -
n bier - | beer -
m wein - | wine -
""",
    "drink",
)
PLACES = _nouns(
    """
m bahnhof bahnhöfe | station stations
m flughafen flughäfen | airport airports
m park parks | park parks
m garten gärten | garden gardens
m supermarkt supermärkte | supermarket supermarkets
n kino kinos | cinema cinemas
n museum museen | museum museums
n krankenhaus krankenhäuser | hospital hospitals
n rathaus rathäuser | town_hall town_halls
n restaurant restaurants | restaurant restaurants
n hotel hotels | hotel hotels
n büro büros | office offices
f schule schulen | school schools
f bibliothek bibliotheken | library libraries
f küche küchen | kitchen kitchens
f bäckerei bäckereien | bakery bakeries
f apotheke apotheken | pharmacy pharmacies
f buchhandlung buchhandlungen | bookshop bookshops
f kirche kirchen | church churches
f universität universitäten | university universities
n wohnzimmer wohnzimmer | living_room living_rooms
n schlafzimmer schlafzimmer | bedroom bedrooms
m hauptbahnhof hauptbahnhöfe | main_station main_stations
""",
    "place",
)
EVENTS = _nouns(
    """
n konzert konzerte | concert concerts
f prüfung prüfungen | exam exams
f hochzeit hochzeiten | wedding weddings
f party partys | party parties
f besprechung besprechungen | meeting meetings
m geburtstag geburtstage | birthday birthdays
f reise reisen | trip trips
m film filme | film films
n spiel spiele | match matches
""",
    "event",
)
PAYABLE = _nouns(
    """
f miete mieten | rent rents
f rechnung rechnungen | bill bills
""",
    "payable",
)

# Productive compounds: modifier + head ("bahnhofs" + "uhr" = "bahnhofsuhr" ↔ "station clock").
COMPOUND_MODIFIERS = [
    ("bahnhofs", "station"),
    ("küchen", "kitchen"),
    ("garten", "garden"),
    ("büro", "office"),
    ("schul", "school"),
    ("holz", "wooden"),
    ("glas", "glass"),
    ("wohnzimmer", "living room"),
]
COMPOUND_HEADS = _nouns(
    """
f uhr uhren | clock clocks
f tür türen | door doors
m tisch tische | table tables
m stuhl stühle | chair chairs
f lampe lampen | lamp lamps
n fenster fenster | window windows
m schrank schränke | cupboard cupboards
""",
    "furniture",
)
OPENABLE_HEADS = {"tür", "fenster", "schrank"}


def _compounds() -> list[Noun]:
    out = []
    for de_mod, en_mod in COMPOUND_MODIFIERS:
        for head in COMPOUND_HEADS:
            cats = {"furniture"}
            if head.de in OPENABLE_HEADS:
                cats.add("openable")
            if head.de == "tür":
                cats.add("lockable")
            out.append(
                Noun(
                    de=de_mod + head.de,
                    gender=head.gender,
                    de_pl=de_mod + (head.de_pl or head.de),
                    en=f"{en_mod} {head.en}",
                    en_pl=f"{en_mod} {head.en_pl}",
                    cats=frozenset(cats),
                )
            )
    return out


COMPOUNDS = _compounds()


def _with_cats(nouns: list[Noun], names: set[str], *cats: str) -> list[Noun]:
    return [
        Noun(n.de, n.gender, n.de_pl, n.en, n.en_pl, n.cats | set(cats), n.de_weak)
        if n.de in names
        else n
        for n in nouns
    ]


THINGS = _with_cats(
    THINGS, {"buch", "brief", "zeitung", "nachricht", "bericht", "postkarte"}, "readable"
)
THINGS = _with_cats(THINGS, {"brief", "nachricht", "bericht", "postkarte"}, "writable")
THINGS = _with_cats(THINGS, {"tasche", "koffer", "rucksack", "flasche", "paket"}, "openable")
VEHICLES_PRIVATE = _with_cats(VEHICLES_PRIVATE, {"auto", "fahrrad", "motorrad"}, "lockable")
FOOD = _with_cats(FOOD, {"suppe", "kartoffel", "ei", "wurst", "kuchen", "pizza"}, "cookable")
PLACES = _with_cats(PLACES, {"küche", "wohnzimmer", "schlafzimmer", "büro"}, "room")
PLACES = _with_cats(
    PLACES,
    {"museum", "park", "garten", "kino", "bibliothek", "kirche", "rathaus", "universität"},
    "visitable",
)

ALL_NOUNS = (
    PEOPLE + ANIMALS + THINGS + VEHICLES_PRIVATE + VEHICLES_PUBLIC + CLOTHES + FOOD + DRINKS
) + (PLACES + EVENTS + PAYABLE + COMPOUNDS)


def nouns_with(*cats: str) -> list[Noun]:
    """Nouns that have at least one of ``cats``."""
    wanted = set(cats)
    return [n for n in ALL_NOUNS if n.cats & wanted]


# ---- adjectives -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjective:
    """German predicative form, attributive stem (teuer → teur), English word, noun categories."""

    de: str
    stem: str
    en: str
    cats: frozenset[str]


def _adjectives(table: str, *cats: str) -> list[Adjective]:
    out = []
    for item in table.split(","):
        de, en = item.split(":")
        de, en = de.strip(), en.strip()
        stem = de[:-1] if de.endswith("e") else de  # müde → müd-e, müd-en
        if "/" in de:
            de, stem = de.split("/")
        out.append(Adjective(de, stem, en, frozenset(cats)))
    return out


_THINGLIKE = ("thing", "clothes", "furniture", "vehicle")
ADJECTIVES = (
    _adjectives(
        "rot:red, blau:blue, grün:green, gelb:yellow, schwarz:black, weiß:white, braun:brown, "
        "grau:grey",
        *_THINGLIKE,
        "animal",
    )
    + _adjectives(
        "neu:new, teuer/teur:expensive, billig:cheap, schwer:heavy, leicht:light, "
        "schmutzig:dirty, sauber:clean, modern:modern, praktisch:practical, hässlich:ugly",
        *_THINGLIKE,
    )
    + _adjectives("groß:big, klein:small", *_THINGLIKE, "animal", "food", "place")
    + _adjectives("schön:beautiful", *_THINGLIKE, "place", "person")
    + _adjectives("alt:old", *_THINGLIKE, "place", "person", "animal")
    + _adjectives("frisch:fresh, lecker:tasty, sauer/saur:sour", "food")
    + _adjectives("süß:sweet", "food", "drink")
    + _adjectives("süß:cute", "animal")  # same word, other noun: the translation depends on it
    + _adjectives("heiß:hot, kalt:cold, warm:warm", "food", "drink")
    + _adjectives(
        "jung:young, nett:nice, freundlich:friendly, klug:clever, müde:tired, glücklich:happy, "
        "traurig:sad, krank:sick, neugierig:curious, berühmt:famous, reich:rich, lustig:funny",
        "person",
    )
    + _adjectives("hungrig:hungry", "person", "animal")
    + _adjectives(
        "leer:empty, voll:full, ruhig:quiet, dunkel/dunkl:dark, hell:bright", "place", "room"
    )
)


def adjectives_for(noun: Noun) -> list[Adjective]:
    """Adjectives that fit ``noun`` (and translate one way for it)."""
    return [a for a in ADJECTIVES if a.cats & noun.cats]


# ---- verbs --------------------------------------------------------------------------------------

# Persons: 0 ich, 1 du, 2 er/sie/es and singular noun phrases, 3 wir, 4 ihr, 5 sie and plurals.
PRONOUNS_DE = ["ich", "du", "er", "wir", "ihr", "sie"]
FULL_TABLES = {
    "sein": "bin bist ist sind seid sind",
    "haben": "habe hast hat haben habt haben",
    "werden": "werde wirst wird werden werdet werden",
    "können": "kann kannst kann können könnt können",
    "wollen": "will willst will wollen wollt wollen",
    "müssen": "muss musst muss müssen müsst müssen",
    "dürfen": "darf darfst darf dürfen dürft dürfen",
    "mögen": "mag magst mag mögen mögt mögen",
    "wissen": "weiß weißt weiß wissen wisst wissen",
}
PRETERITE_TABLES = {
    "sein": "war warst war waren wart waren",
    "haben": "hatte hattest hatte hatten hattet hatten",
}


def _needs_e(stem: str) -> bool:
    """arbeit-e-t, find-e-t, öffn-e-t: an -e- before -st/-t."""
    if stem.endswith(("t", "d")):
        return True
    return stem[-1] in "mn" and len(stem) > 1 and stem[-2] not in "aeiouäöülrmnh"


def conjugate_present(inf: str, du: str | None = None, er: str | None = None) -> list[str]:
    """German present tense of ``inf`` for the six persons.

    Args:
        inf: the (base) infinitive without separable prefix, e.g. "kaufen", "fahren".
        du, er: stem-changed forms where the verb has them ("fährst", "fährt").

    Returns:
        [ich, du, er, wir, ihr, sie] forms.
    """
    if inf in FULL_TABLES:
        return FULL_TABLES[inf].split()
    stem = inf[:-2] if inf.endswith("en") else inf[:-1]
    e = "e" if _needs_e(stem) else ""
    if du is None:
        du = stem + (e + "st" if e or not stem.endswith(("s", "ß", "z", "x")) else "t")
    if er is None:
        er = stem + e + "t"
    return [stem + "e", du, er, inf, stem + e + "t", inf]


@dataclass(frozen=True)
class Verb:
    """A verb with its German forms, English forms and what it combines with.

    ``kind``: "acc" (direct object), "dat" (dative object), "prep" (prepositional object),
    "motion"/"stay" (a destination or location phrase), "copula" (sein + predicate).
    """

    inf: str  # full German infinitive ("anrufen")
    prefix: str  # separable prefix ("an") or ""
    present: tuple[str, ...]  # present tense of the base verb ("rufe", "rufst", ...)
    participle: str
    aux: str  # "haben" or "sein"
    en: tuple[str, str, str]  # base, 3rd singular, past ("call", "calls", "called")
    kind: str
    cats: frozenset[str] = frozenset()
    prep: tuple[str, str, str] | None = None  # (German preposition, case, English preposition)

    @property
    def preterite(self) -> list[str] | None:
        """Simple past forms for verbs whose past is told that way (sein, haben), else None."""
        table = PRETERITE_TABLES.get(self.inf)
        return table.split() if table else None


def _verb(spec: str, kind: str, cats: str = "", prep: str | None = None) -> Verb:
    """Parse "inf[:prefix] [du,er] participle aux | base 3sg past" (English "_" = space)."""
    de_part, en_part = spec.split("|")
    fields = de_part.split()
    inf, prefix = (fields[0].split(":") + [""])[:2]
    base_inf = inf[len(prefix) :]
    du = er = None
    if len(fields) == 4:
        du, er = fields[1].split(",")
    participle, aux = fields[-2], fields[-1]
    en = tuple(w.replace("_", " ") for w in en_part.split())
    prep_t = None
    if prep is not None:
        p, case, en_p = prep.split()
        prep_t = (p, case, en_p)
    return Verb(
        inf=inf,
        prefix=prefix,
        present=tuple(conjugate_present(base_inf, du, er)),
        participle=participle,
        aux=aux,
        en=en,  # type: ignore[arg-type]
        kind=kind,
        cats=frozenset(cats.split()),
        prep=prep_t,
    )


_ANY_OBJECT = "person animal thing clothes furniture"
TRANSITIVE = [
    _verb("kaufen gekauft haben | buy buys bought", "acc", "thing clothes furniture food"),
    _verb("sehen siehst,sieht gesehen haben | see sees saw", "acc", _ANY_OBJECT + " public"),
    _verb("lesen liest,liest gelesen haben | read reads read", "acc", "readable"),
    _verb("schreiben geschrieben haben | write writes wrote", "acc", "writable"),
    _verb("essen isst,isst gegessen haben | eat eats ate", "acc", "food"),
    _verb("trinken getrunken haben | drink drinks drank", "acc", "drink"),
    _verb("kochen gekocht haben | cook cooks cooked", "acc", "cookable"),
    _verb("bestellen bestellt haben | order orders ordered", "acc", "food drink"),
    _verb("suchen gesucht haben | look_for looks_for looked_for", "acc", _ANY_OBJECT),
    _verb("finden gefunden haben | find finds found", "acc", "person animal thing clothes"),
    _verb("verlieren verloren haben | lose loses lost", "acc", "thing clothes"),
    _verb(
        "vergessen vergisst,vergisst vergessen haben | forget forgets forgot",
        "acc",
        "thing clothes",
    ),
    _verb("brauchen gebraucht haben | need needs needed", "acc", "thing clothes furniture"),
    _verb("mögen gemocht haben | like likes liked", "acc", "person animal food drink"),
    _verb("reparieren repariert haben | repair repairs repaired", "acc", "vehicle furniture"),
    _verb("putzen geputzt haben | clean cleans cleaned", "acc", "furniture room vehicle"),
    _verb("waschen wäschst,wäscht gewaschen haben | wash washes washed", "acc", "clothes vehicle"),
    _verb("verkaufen verkauft haben | sell sells sold", "acc", "thing furniture"),
    _verb("tragen trägst,trägt getragen haben | carry carries carried", "acc", "thing clothes"),
    _verb("besuchen besucht haben | visit visits visited", "acc", "person visitable"),
    _verb("treffen triffst,trifft getroffen haben | meet meets met", "acc", "person"),
    _verb("fragen gefragt haben | ask asks asked", "acc", "person"),
    _verb("einladen:ein lädst,lädt eingeladen haben | invite invites invited", "acc", "person"),
    _verb("anrufen:an angerufen haben | call calls called", "acc", "person"),
    _verb("abholen:ab abgeholt haben | pick_up picks_up picked_up", "acc", "person thing"),
    _verb("aufmachen:auf aufgemacht haben | open opens opened", "acc", "openable"),
    _verb("zumachen:zu zugemacht haben | close closes closed", "acc", "openable"),
    _verb("abschließen:ab abgeschlossen haben | lock locks locked", "acc", "lockable"),
    _verb("mitbringen:mit mitgebracht haben | bring brings brought", "acc", "thing food person"),
    _verb("anschauen:an angeschaut haben | look_at looks_at looked_at", "acc", _ANY_OBJECT),
    _verb("verpassen verpasst haben | miss misses missed", "acc", "public"),
    _verb("nehmen nimmst,nimmt genommen haben | take takes took", "acc", "public thing"),
    _verb("bezahlen bezahlt haben | pay pays paid", "acc", "payable"),
    _verb("schicken geschickt haben | send sends sent", "acc", "writable"),
    _verb("haben gehabt haben | have has had", "acc", "animal thing"),
    _verb("helfen hilfst,hilft geholfen haben | help helps helped", "dat", "person"),
    _verb("danken gedankt haben | thank thanks thanked", "dat", "person"),
    _verb("folgen gefolgt sein | follow follows followed", "dat", "person animal"),
    _verb("warten gewartet haben | wait waits waited", "prep", "person public", "auf acc for"),
    _verb("denken gedacht haben | think thinks thought", "prep", "person", "an acc of"),
    _verb(
        "sprechen sprichst,spricht gesprochen haben | talk talks talked",
        "prep",
        "person",
        "mit dat to",
    ),
    _verb("spielen gespielt haben | play plays played", "prep", "person animal", "mit dat with"),
]
MOTION = {
    "fahren": _verb("fahren fährst,fährt gefahren sein | go goes went", "motion"),
    "fliegen": _verb("fliegen geflogen sein | fly flies flew", "motion"),
    "reisen": _verb("reisen gereist sein | travel travels travelled", "motion"),
    "gehen": _verb("gehen gegangen sein | go goes went", "motion"),
    "kommen": _verb("kommen gekommen sein | come comes came", "motion"),
    "wohnen": _verb("wohnen gewohnt haben | live lives lived", "stay"),
    "arbeiten": _verb("arbeiten gearbeitet haben | work works worked", "stay"),
    "bleiben": _verb("bleiben geblieben sein | stay stays stayed", "stay"),
    "schlafen": _verb("schlafen schläfst,schläft geschlafen haben | sleep sleeps slept", "stay"),
}
COPULA = _verb("sein gewesen sein | be is was", "copula")
# Verbs that introduce a "dass"/"ob" clause.
SAY_VERBS = [
    _verb("glauben geglaubt haben | think thinks thought", "say"),
    _verb("wissen gewusst haben | know knows knew", "say"),
    _verb("sagen gesagt haben | say says said", "say"),
    _verb("hoffen gehofft haben | hope hopes hoped", "say"),
    _verb("hören gehört haben | hear hears heard", "say"),
]
COST = _verb("kosten gekostet haben | cost costs cost", "amount")
PAY = _verb("bezahlen bezahlt haben | pay pays paid", "amount")
# Separable verbs for timetables ("der zug fährt um acht uhr ab" ↔ "the train leaves at ...").
TIMETABLE_VERBS = [
    _verb("abfahren:ab fährst,fährt abgefahren sein | leave leaves left", "time"),
    _verb("ankommen:an angekommen sein | arrive arrives arrived", "time"),
]
EVENT_VERBS = [
    _verb("beginnen begonnen haben | start starts started", "time"),
    _verb("enden geendet haben | end ends ended", "time"),
]

# Modals: German verb, English (declarative 3sg, declarative other, negated 3sg, negated other,
# question auxiliary 3sg, question auxiliary other, rest after the subject in questions).
MODALS = {
    "können": ("can", "can", "cannot", "cannot", "can", "can", ""),
    "dürfen": ("may", "may", "may not", "may not", "may", "may", ""),
    "wollen": (
        "wants to",
        "want to",
        "does not want to",
        "do not want to",
        "does",
        "do",
        "want to",
    ),
    "müssen": ("has to", "have to", "does not have to", "do not have to", "does", "do", "have to"),
}

# ---- names, places, calendar --------------------------------------------------------------------

NAMES = (
    "anna maria peter thomas lena paul julia emma laura sarah david martin sophie clara "
    "michael daniel eva hanna tobias stefan"
).split()
# (German, English): cities and countries used without article.
DESTINATIONS = [
    tuple(p.split(":"))
    for p in (
        "berlin:berlin hamburg:hamburg bremen:bremen dresden:dresden leipzig:leipzig "
        "stuttgart:stuttgart frankfurt:frankfurt münchen:munich köln:cologne wien:vienna "
        "rom:rome prag:prague zürich:zurich mailand:milan venedig:venice warschau:warsaw "
        "brüssel:brussels lissabon:lisbon kopenhagen:copenhagen athen:athens genf:geneva "
        "nürnberg:nuremberg hannover:hanover paris:paris london:london madrid:madrid "
        "deutschland:germany frankreich:france italien:italy spanien:spain österreich:austria "
        "polen:poland schweden:sweden norwegen:norway dänemark:denmark griechenland:greece "
        "portugal:portugal japan:japan kanada:canada"
    ).split()
]
MONTHS_DE = (
    "januar februar märz april mai juni juli august september oktober november dezember".split()
)
MONTHS_EN = (
    "january february march april may june july august september october november december".split()
)
WEEKDAYS = [
    ("montag", "monday"),
    ("dienstag", "tuesday"),
    ("mittwoch", "wednesday"),
    ("donnerstag", "thursday"),
    ("freitag", "friday"),
    ("samstag", "saturday"),
    ("sonntag", "sunday"),
]
DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
